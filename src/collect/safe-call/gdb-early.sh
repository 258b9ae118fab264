# gdb started by sh, before node: sourced by main.js's sh line (src/cli/main.ts) for `inspect`,
# `trim` and `capture`, as dist/cli/gdb-early.sh, where `npm run build` (scripts/bundle.mjs) has
# put gdb's command line (gdb-argv.ts gdbArgs, for the pid in $2) in place of the placeholder.
# node takes about 70 ms to start and gdb about 180 ms to be ready to attach: started here, gdb's
# start overlaps node's instead of following it. gdb attaches nothing until node has read the target
# and written its parameters (driver.py waits for them, and makes the attach itself).
#
# A process costs about 4 ms to start on a small VM, so this shell forks once and becomes node; the
# rest happens in the background, in the subshell that becomes gdb. It makes the session directory,
# named after node's pid ($$, as node's own), with gdb's stdout and stderr as FIFOs in it, opened
# read-write (no open blocks, whatever becomes of node; the driver reopens them write-only once node
# has given its parameters), and "ready" once they are, holding the subshell's pid (gdb's, after
# exec). node adopts that gdb (gdb-adopted.ts adoptEarly) by
# HEAPGAP_EARLY_GDB="<gdb's pid> <target pid> <session directory>", after checking the directory is
# its own. Whatever fails here, node starts gdb itself, as it does for every other command.
# Variables are hg_-prefixed: an exported variable of the user's with the same name would otherwise
# be changed for node and its children.
hg_gdb_early() {
  for hg_a; do
    case $hg_a in -h|--help) return 1 ;; esac
  done
  # the pid as gdb-process.ts earlyPidOf takes it
  case $2 in '' | 0* | *[!0-9]*) return 1 ;; esac
  # Not for PID 1 of heapgap's own pid namespace: that is heapgap run inside the application's
  # container, whose PID 1 (the application) inherits what heapgap leaves when it exits. This gdb
  # is node's child but not one node can reap, and would stay there a zombie for good; the gdb
  # node starts itself is reaped by node.
  [ "$2" != 1 ] || return 1
  [ ${#2} -le 10 ] || return 1
  # gdb as gdb-path.ts gdbOnPath finds it: the first in PATH's absolute directories
  hg_g=
  set -f
  hg_ifs=$IFS
  IFS=:
  for hg_p in $PATH; do
    case $hg_p in /*) [ -f "$hg_p/gdb" ] && [ -x "$hg_p/gdb" ] && { hg_g=$hg_p/gdb; break; } ;; esac
  done
  IFS=$hg_ifs
  set +f
  [ -n "$hg_g" ] || return 1
  # $hg_main: main.js's path, symlinks resolved (main.ts's sh line)
  case $hg_main in /*) ;; *) hg_main=$PWD/$hg_main ;; esac
  hg_root=${hg_main%/dist/cli/*}
  [ "$hg_root" != "$hg_main" ] || return 1
  hg_t=${TMPDIR:-/tmp}
  case $hg_t in /*) ;; *) return 1 ;; esac
  hg_d=${hg_t%/}/heapgap-early-$$
  (
    # not the user's terminal or pipe: heapgap's output must end when node's does
    exec </dev/null >/dev/null 2>&1
    mkdir -m 700 "$hg_d" && cd "$hg_d" && mkfifo -m 600 out err || exit 1
    exec 5<>out 6<>err
    : >gate
    # dist/pycache as gdb-path.ts pycacheEnv allows it: built for this gdb, and writable by no
    # one but its owner (root or this user) up to /, sticky directories above it aside
    hg_c=$hg_root/dist/pycache
    case $hg_c in *[!A-Za-z0-9/._+-]*) hg_c= ;; esac
    hg_built=
    [ -n "$hg_c" ] && [ -r "$hg_c/gdb.path" ] && read -r hg_built <"$hg_c/gdb.path"
    if [ -n "$hg_c" ] && [ "$hg_built" = "$hg_g" ]; then
      hg_uid=
      if [ -O / ]; then hg_uid=0; else
        while read -r hg_k hg_real hg_eff hg_rest; do
          [ "$hg_k" = Uid: ] && hg_uid=$hg_eff
        done </proc/self/status
      fi
      hg_up=$hg_c
      hg_p=$hg_c
      while [ -n "$hg_p" ] && [ "$hg_p" != / ]; do
        hg_p=${hg_p%/*}
        [ -n "$hg_p" ] || hg_p=/
        hg_up="$hg_up $hg_p"
      done
      # $hg_up unquoted: no character in it is special to sh (checked above). find prints every
      # path that fails, or its own error.
      if [ -z "$hg_uid" ] || [ -n "$(find $hg_up -maxdepth 0 \( \( ! -uid 0 ! -uid "$hg_uid" \) -o \( -perm /022 \( ! -perm -1000 -o -path "$hg_c" \) \) -o ! -type d \) -print 2>&1)" ]; then
        hg_c=
      fi
    else
      hg_c=
    fi
    unset NODE_EXTRA_CA_CERTS
    [ -z "${HEAPGAP_NODE_EXTRA_CA_CERTS+set}" ] || export NODE_EXTRA_CA_CERTS="$HEAPGAP_NODE_EXTRA_CA_CERTS"
    unset HEAPGAP_NODE_EXTRA_CA_CERTS
    export HEAPGAP_PARAMS="$hg_d/params.json" HEAPGAP_PARENT=$$ HEAPGAP_ASSETS="$hg_root/src/collect/safe-call" LC_ALL=C
    [ -z "$hg_c" ] || export PYTHONPYCACHEPREFIX="$hg_c" PYTHONDONTWRITEBYTECODE=1
    read -r hg_me hg_rest </proc/self/stat
    echo "$hg_me" >ready
    @GDB_ARGS@ </dev/null >&5 2>&6 5>&- 6>&-
  ) &
  hg_early="$! $2 $hg_d"
}
if hg_gdb_early "$@"; then
  export HEAPGAP_EARLY_GDB="$hg_early"
fi
