//! `custom-executor`: Tokio I/O driven from a foreign executor (Tokio's
//! `custom-executor` example). A `futures` thread pool runs a future wrapped in
//! `tokio_util::context::TokioContext`, so that it can bind a Tokio `TcpListener` on
//! 0.0.0.0:0 although no Tokio worker polls it; it prints `addr: Ok(0.0.0.0:PORT)`.

use tokio::net::TcpListener;
use tokio::sync::oneshot;

fn main() {
    let (done, finished) = oneshot::channel();
    foreign::spawn(async move {
        let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
        println!("addr: {:?}", listener.local_addr());
        done.send(()).unwrap();
    });
    futures::executor::block_on(finished).unwrap();
}

/// A "custom" executor: a `futures` thread pool that borrows a Tokio runtime's reactor
/// and timers for the futures it runs.
mod foreign {
    use std::future::Future;
    use std::sync::LazyLock;

    use futures::executor::ThreadPool;
    use tokio::runtime::Runtime;
    use tokio_util::context::TokioContext;

    struct Executor {
        pool: ThreadPool,
        tokio: Runtime,
    }

    static EXECUTOR: LazyLock<Executor> = LazyLock::new(|| Executor {
        pool: ThreadPool::builder().create().expect("thread pool"),
        tokio: tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    });

    /// Runs `f` on the thread pool, inside the Tokio runtime's context.
    pub fn spawn(f: impl Future<Output = ()> + Send + 'static) {
        let handle = EXECUTOR.tokio.handle().clone();
        EXECUTOR.pool.spawn_ok(TokioContext::new(f, handle));
    }
}
