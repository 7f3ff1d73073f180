#!/bin/sh
# tests/dataflows/fixture.sh DIR: makes the harness fixture `dora` (tests/harness/tests.toml)
# in DIR. The harness runs the same command on the host and in Axle, with DIR as {bin}
# (host) and as /add (Axle), so DIR gets:
#
#   stage -> ~/.cache/axle/stage/dataflows   (symlink: the staged dataflows and driver)
#   dora  -> ~/.cache/axle/dora/0.3.5/bin/dora
#   run-dora-flow                             (a small sh script, below)
#
# run-dora-flow runs dora-flow.sh with Dora and the dataflows of stage/ when those
# symlinks resolve (on the host), and otherwise (in the guest, where they point nowhere)
# the image's /opt/dataflows/dora-flow.sh with /bin/dora. So the host run is the reference
# for exactly the binaries the image ships (both come from the same build).
set -eu
dir=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
stage=$("$repo/tests/dataflows/build.sh")
dora=$("$repo/tools/build-dora.sh")
ln -sfn "$stage" "$dir/stage"
ln -sfn "$dora" "$dir/dora"
cat >"$dir/run-dora-flow" <<'SCRIPT'
#!/bin/sh
# run-dora-flow (made by tests/dataflows/fixture.sh): the host's staged dataflows when
# stage/ resolves, else the image's /opt/dataflows.
here=$(cd "$(dirname "$0")" && pwd)
if [ -r "$here/stage/dora-flow.sh" ] && [ -x "$here/dora" ]; then
  exec sh "$here/stage/dora-flow.sh" --dora "$here/dora" --dataflows "$here/stage" "$@"
fi
exec sh /opt/dataflows/dora-flow.sh "$@"
SCRIPT
chmod 755 "$dir/run-dora-flow"
echo "fixture: $dir (stage $stage, dora $dora)"
