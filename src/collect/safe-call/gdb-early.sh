# gdb started by sh, before node: sourced by main.js's sh line (src/cli/main.ts) for `inspect`,
# `trim` and `capture`, as dist/cli/gdb-early.sh, where `npm run build` (scripts/bundle.mjs) has
# put gdb's command line (gdb-argv.ts gdbArgs, for the pid in $2) in place of the placeholder.
# node takes about 70 ms to start and gdb about 180 ms to be ready to attach: started here, gdb's
# start overlaps node's instead of following it. gdb attaches nothing until node has read the target
# and written its parameters (driver.py waits for them).
#
# A process costs about 4 ms to start on a small VM, so this shell forks once and becomes node; the
# rest happens in the background, in the subshell that becomes gdb. It makes the session directory,
# named after node's pid ($$, as node's own), with gdb's stdout and stderr as FIFOs in it, opened
# read-write (no open blocks, and gdb then holds the only writers: its exit is their end of file),
# and "ready" once they are. node adopts that gdb (gdb-process.ts adoptEarly) by
# HEAPGAP_EARLY_GDB="<gdb's pid> <target pid> <session directory>". Whatever fails here, node starts
# gdb itself, as it does for every other command.
heapgap_gdb_early() {
  for a; do
    case $a in -h|--help) return 1 ;; esac
  done
  # the pid as gdb-process.ts earlyPidOf takes it
  case $2 in '' | 0* | *[!0-9]*) return 1 ;; esac
  [ ${#2} -le 10 ] || return 1
  # gdb as gdb-path.ts gdbOnPath finds it: the first in PATH's absolute directories
  g=
  set -f
  ifs=$IFS
  IFS=:
  for p in $PATH; do
    case $p in /*) [ -f "$p/gdb" ] && [ -x "$p/gdb" ] && { g=$p/gdb; break; } ;; esac
  done
  IFS=$ifs
  set +f
  [ -n "$g" ] || return 1
  # $h: main.js's path, symlinks resolved (main.ts's sh line)
  case $h in /*) ;; *) h=$PWD/$h ;; esac
  root=${h%/dist/cli/*}
  [ "$root" != "$h" ] || return 1
  t=${TMPDIR:-/tmp}
  d=${t%/}/heapgap-early-$$
  (
    # not the user's terminal or pipe: heapgap's output must end when node's does
    exec </dev/null >/dev/null 2>&1
    mkdir -m 700 "$d" && cd "$d" && mkfifo -m 600 out err || exit 1
    exec 5<>out 6<>err
    : >gate
    # dist/pycache as gdb-path.ts pycacheEnv allows it: built for this gdb, and writable by no
    # one but its owner (root or this user) up to /, sticky directories above it aside
    c=$root/dist/pycache
    case $c in *[!A-Za-z0-9/._+-]*) c= ;; esac
    built=
    [ -n "$c" ] && [ -r "$c/gdb.path" ] && read -r built <"$c/gdb.path"
    if [ -n "$c" ] && [ "$built" = "$g" ]; then
      uid=
      if [ -O / ]; then uid=0; else
        while read -r k real eff rest; do
          [ "$k" = Uid: ] && uid=$eff
        done </proc/self/status
      fi
      up=$c
      p=$c
      while [ -n "$p" ] && [ "$p" != / ]; do
        p=${p%/*}
        [ -n "$p" ] || p=/
        up="$up $p"
      done
      # $up unquoted: no character in it is special to sh (checked above). find prints every
      # path that fails, or its own error.
      if [ -z "$uid" ] || [ -n "$(find $up -maxdepth 0 \( \( ! -uid 0 ! -uid "$uid" \) -o \( -perm /022 \( ! -perm -1000 -o -path "$c" \) \) -o ! -type d \) -print 2>&1)" ]; then
        c=
      fi
    else
      c=
    fi
    [ -z "${HEAPGAP_NODE_EXTRA_CA_CERTS+set}" ] || export NODE_EXTRA_CA_CERTS="$HEAPGAP_NODE_EXTRA_CA_CERTS"
    unset HEAPGAP_NODE_EXTRA_CA_CERTS
    export HEAPGAP_PARAMS="$d/params.json" HEAPGAP_PARENT=$$ LC_ALL=C
    [ -z "$c" ] || export PYTHONPYCACHEPREFIX="$c" PYTHONDONTWRITEBYTECODE=1
    : >ready
    @GDB_ARGS@ </dev/null >&5 2>&6 5>&- 6>&-
  ) &
  early="$! $2 $d"
}
if heapgap_gdb_early "$@"; then
  export HEAPGAP_EARLY_GDB="$early"
fi
