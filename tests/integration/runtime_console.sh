#!/bin/bash
# Console socket: the pty is allocated in the container, its master sent to
# the --console-socket receiver, the slave is the process's terminal.
. "$(dirname "$0")/lib.sh"

ROOT=$T_TMP/state
rt() { "$BUILD/vessel-runtime" --root "$ROOT" "$@"; }
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
RECV=$TOP/tests/integration/console-recv.py
cleanup() {
	local id
	for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
	[ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null
	rm -rf "$T_TMP"
}
trap cleanup EXIT

[ -x "$BUILD/vessel-runtime" ] || { echo "not ok runtime_console: no $BUILD/vessel-runtime"; exit 1; }

# starts the receiver on $T_TMP/$1.sock, output in $T_TMP/$1.out
receiver() {
	"$PY" "$RECV" "$T_TMP/$1.sock" "$T_TMP/$1.out" "${2:-}" &
	RPID=$!
	local i
	for i in $(seq 1 500); do [ -e "$T_TMP/$1.sock.ready" ] && return 0; sleep 0.02; done
	t_fail "console receiver did not start"
}

run_with_console() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/c1" --tty \
		--set 'c["process"]["consoleSize"] = {"height": 33, "width": 101}' \
		sh -c 'tty; stty size; ls -l /dev/console; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty' >/dev/null
	receiver c1
	rt run --bundle "$T_TMP/c1" --console-socket "$T_TMP/c1.sock" co1
	wait "$RPID"
	tr -d '\r' < "$T_TMP/c1.out" > "$T_TMP/c1.txt"
	grep -qx '/dev/pts/0' "$T_TMP/c1.txt" || t_fail "tty: $(cat "$T_TMP/c1.txt")"
	grep -qx '33 101' "$T_TMP/c1.txt" || t_fail "console size: $(cat "$T_TMP/c1.txt")"
	grep -Eq '^c.* 136, +0 .*/dev/console' "$T_TMP/c1.txt" || t_fail "/dev/console is not the pty: $(cat "$T_TMP/c1.txt")"
	grep -qx stdio-is-tty "$T_TMP/c1.txt" || t_fail "stdio not the tty"
}

input_reaches_container() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/c2" --tty sh -c 'read line; echo "got:$line"' >/dev/null
	receiver c2 $'hello-pty\n'
	rt create --bundle "$T_TMP/c2" --console-socket "$T_TMP/c2.sock" co2
	rt start co2
	wait "$RPID"
	grep -q 'got:hello-pty' "$T_TMP/c2.out" || t_fail "output: $(cat "$T_TMP/c2.out")"
	local i; for i in $(seq 1 500); do rt state co2 | grep -q stopped && break; sleep 0.02; done
	rt delete co2
}

exec_tty() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/c3" sleep 1000 >/dev/null
	rt run -d --bundle "$T_TMP/c3" co3
	receiver c3
	rt exec --tty --console-socket "$T_TMP/c3.sock" co3 sh -c 'tty'
	wait "$RPID"
	grep -q '^/dev/pts/[0-9]' "$T_TMP/c3.out" || t_fail "exec tty: $(cat "$T_TMP/c3.out")"
	rt delete --force co3
}

terminal_without_socket_refused() {
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/c4" --tty true >/dev/null
	if rt create --bundle "$T_TMP/c4" co4 2> "$T_TMP/err"; then t_fail "accepted"; fi
	grep -q "console-socket" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ ! -e "$ROOT/co4" ] || t_fail "state dir left behind"
	if rt create --bundle "$T_TMP/c4" --console-socket "$T_TMP/none.sock" co4 2> "$T_TMP/err"; then
		t_fail "missing socket accepted"; fi
	grep -q "none.sock" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
	[ ! -e "$ROOT/co4" ] || t_fail "state dir left behind"
}

foreground_run_uses_own_terminal() {
	command -v script > /dev/null || t_skip "no script(1) to give the runtime a terminal"
	"$TOP/tests/integration/make-bundle.sh" "$T_TMP/c5" --tty sh -c 'tty; read x; echo "got:$x"; exit 3' >/dev/null
	local rc=0
	printf 'typed\n' | script -qec "$BUILD/vessel-runtime --root $ROOT run --bundle $T_TMP/c5 co5; echo rc=\$?" \
		/dev/null > "$T_TMP/c5.out" || true
	tr -d '\r' < "$T_TMP/c5.out" > "$T_TMP/c5.txt"
	grep -qx '/dev/pts/0' "$T_TMP/c5.txt" || t_fail "tty: $(cat "$T_TMP/c5.txt")"
	grep -qx 'got:typed' "$T_TMP/c5.txt" || t_fail "input not relayed: $(cat "$T_TMP/c5.txt")"
	grep -qx 'rc=3' "$T_TMP/c5.txt" || t_fail "exit status: $(cat "$T_TMP/c5.txt")"
	[ ! -e "$ROOT/co5" ] || t_fail "state dir left behind"
	# without a terminal on stdin the console socket is required
	if rt run --bundle "$T_TMP/c5" co6 < /dev/null 2> "$T_TMP/err"; then t_fail "run without a tty accepted"; fi
	grep -q "console-socket" "$T_TMP/err" || t_fail "message: $(cat "$T_TMP/err")"
}

t_run console_run_pty_is_terminal_and_dev_console run_with_console
t_run console_input_reaches_container input_reaches_container
t_run console_exec_tty exec_tty
t_run console_terminal_without_socket_refused terminal_without_socket_refused
t_run console_foreground_run_uses_own_terminal foreground_run_uses_own_terminal
