# Shared helpers for integration tests (sourced). Each test prints one line
# that tests/run.sh counts: "ok NAME", "not ok NAME: why", "skip NAME: why".
#
#   t_run NAME FUNCTION   runs FUNCTION in a subshell; its exit status decides:
#                         0 ok, 77 skip (reason on the last line of stdout of
#                         t_skip), anything else not ok.
#   t_skip "reason"       inside a test function: skip it.
#   t_fail "reason"       inside a test function: fail with that reason.

set -u
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build/asan}
T_TMP=$(mktemp -d /tmp/vessel-test.XXXXXX)
trap 'rm -rf "$T_TMP"' EXIT

t_skip() { echo "$*" > "$T_TMP/.reason"; exit 77; }
t_fail() { echo "$*" > "$T_TMP/.reason"; exit 1; }

# t_expect DESC CMD...: fails the test if CMD fails
t_expect() { local d=$1; shift; "$@" || t_fail "$d"; }

t_run() {
	local name=$1 fn=$2 rc log
	rm -f "$T_TMP/.reason"
	log="$T_TMP/$name.log"
	( set -e; "$fn" ) > "$log" 2>&1
	rc=$?
	case $rc in
	0) echo "ok $name" ;;
	77) echo "skip $name: $(cat "$T_TMP/.reason" 2>/dev/null)" ;;
	*)
		echo "not ok $name: $(cat "$T_TMP/.reason" 2>/dev/null || echo "exit $rc")"
		sed 's/^/    /' "$log" | tail -n 30 >&2
		;;
	esac
}
