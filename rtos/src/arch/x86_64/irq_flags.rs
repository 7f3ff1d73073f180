//! The interrupt flag of this CPU. On the host (unit tests) these are no-ops.

/// Disables interrupts, returning whether they were enabled.
#[inline]
pub fn save_and_disable() -> bool {
    #[cfg(target_os = "none")]
    {
        let was = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        was
    }
    #[cfg(not(target_os = "none"))]
    false
}

/// Re-enables interrupts if `enabled`.
#[inline]
pub fn restore(enabled: bool) {
    #[cfg(target_os = "none")]
    if enabled {
        x86_64::instructions::interrupts::enable();
    }
    #[cfg(not(target_os = "none"))]
    let _ = enabled;
}

/// Whether interrupts are enabled on this CPU.
#[inline]
pub fn enabled() -> bool {
    #[cfg(target_os = "none")]
    return x86_64::instructions::interrupts::are_enabled();
    #[cfg(not(target_os = "none"))]
    false
}

/// Enables interrupts.
#[inline]
pub fn enable() {
    #[cfg(target_os = "none")]
    x86_64::instructions::interrupts::enable();
}

/// Disables interrupts.
#[inline]
pub fn disable() {
    #[cfg(target_os = "none")]
    x86_64::instructions::interrupts::disable();
}
