#!/bin/bash
# sdboot.sh: boot a real systemd manager (the host's /lib/systemd/systemd) as PID 1 of private
# mount+pid+uts+ipc+cgroup(+net) namespaces, on a throw-away overlay of the host root, for
# tenement's integration tests. It is embedded into internal/testbed (go:embed) and run with bash,
# and it also works by hand (as root). See README.md beside it.
#
#   [NET=private|host] [CGROUP=host|unified] [SHARE="/dir1 /dir2"] [OWNER=pid|none] sdboot.sh start NAME
#        boots the manager, waits until it is running/degraded, prints the host pid of its PID 1.
#        NET=private (default): own network namespace (only lo, UP); NET=host: the host's.
#        CGROUP=host (default): the host's cgroup layout (hybrid here); CGROUP=unified: only
#               a cgroup2 tree, so systemd runs unified. On a hybrid host that tree has no
#               controllers (they are bound to the v1 hierarchies), and the whole manager is
#               capped through its v1 sub-cgroups instead (UNIFIED_PIDS_MAX, UNIFIED_MEMORY_MAX).
#        SHARE: host dirs rbind-mounted read-write at the same path inside.
#        OWNER: the process that owns the manager (default: our parent). When it is gone, the
#               manager is stale and `cleanup-stale` removes it. OWNER=none: kept until `stop`.
#   sdboot.sh stop NAME        poweroff (SIGRTMIN+4), SIGKILL after 10 s, remove cgroups + state
#   sdboot.sh cleanup-stale    stop every manager whose owner or PID 1 is gone
#   sdboot.sh list             NAME PID OWNER STATE
#
# State: /var/lib/tenement-testbed/NAME/ {pid, unshare.pid, owner, console.log, unshare.log,
#   bus/ (= /run/dbus inside: the system bus is bus/system_bus_socket), merged/ + ovl/ (overlay)}.
# /var/lib/tenement-testbed/NAME.share/ (created by the Go harness) is removed with the manager.
# Cgroups: /sys/fs/cgroup/<hierarchy>/tenement-testbed-NAME, at the root of every hierarchy.
#
# Hazards handled here (see the project's systemd-testbed reference; do not undo them):
#  * /dev is a minimal tmpfs, never the host's /dev (the guest would create /dev/log, vcs*, ...
#    on the host's devtmpfs, and journald would read the host's /dev/kmsg);
#  * /proc/sys is read-only (systemd-sysctl/binfmt would rewrite host-global settings);
#  * the manager boots testmgr.target (journald + dbus), never multi-user.target (the overlay's
#    lower layer is the live host root: it would start whatever the host has enabled);
#  * --log-target=journal (the console is not a tty: console logging is dropped);
#  * the sub-cgroups sit at the root of every hierarchy, not under the caller's cgroup;
#  * nothing is created on the host outside the state dir and the sub-cgroups (in particular no
#    /run/systemd/system: host tools would then believe systemd is PID 1).
set -uo pipefail
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ROOT=/var/lib/tenement-testbed
CGPREFIX=tenement-testbed-
# CGROUP=unified on a hybrid host: the whole manager's caps (see cmd_start)
UNIFIED_PIDS_MAX=2048 UNIFIED_MEMORY_MAX=$((4 << 30))

die() { echo "sdboot: $*" >&2; exit 1; }
valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,40}$ ]]; }

# procinfo PID -> "STATE STARTTIME" (fields 3 and 22 of /proc/PID/stat; comm may hold spaces)
procinfo() {
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo "$1 ${20}"
}
starttime() { local i; i=$(procinfo "$1") || return 1; echo "${i#* }"; }
# alive PID STARTTIME: that very process (not a reused pid) exists and is not a zombie
alive() {
	local i
	[ -n "${2:-}" ] || return 1
	i=$(procinfo "$1") || return 1
	case ${i%% *} in Z | X | x) return 1 ;; esac
	[ "${i#* }" = "$2" ]
}

children() { cat /proc/"$1"/task/*/children 2>/dev/null; }

# host cgroup hierarchies: "MOUNTPOINT FSTYPE SUPEROPTS" per line
cg_mounts() {
	awk '{ for (i = 7; $i != "-"; i++); fs = $(i + 1)
	       if ((fs == "cgroup" || fs == "cgroup2") && ($5 == "/sys/fs/cgroup" || index($5, "/sys/fs/cgroup/") == 1))
	           print $5, fs, $(i + 3) }' /proc/self/mountinfo
}

# cg_remove NAME: depth-first rmdir of tenement-testbed-NAME in every hierarchy. Processes still
# inside after a few seconds (only ever ours: the dirs carry our prefix) are SIGKILLed.
cg_remove() {
	local mp fs opts d i p ok=0
	for i in $(seq 60); do
		ok=1
		while read -r mp fs opts; do
			d=$mp/$CGPREFIX$1
			[ -d "$d" ] || continue
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$d" ] || continue
			ok=0
			if [ "$i" -ge 20 ]; then
				find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
			fi
		done < <(cg_mounts)
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	echo "sdboot: could not remove all cgroups of $1" >&2
	return 1
}

# do_stop NAME: idempotent; works whether the manager runs, died, or never fully started.
do_stop() {
	local S=$ROOT/$1 p='' pst='' u='' ust='' i
	[ -f "$S/pid" ] && read -r p pst < "$S/pid"
	[ -f "$S/unshare.pid" ] && read -r u ust < "$S/unshare.pid"
	if alive "$p" "$pst"; then
		kill -RTMIN+4 "$p" 2>/dev/null # SIGRTMIN+4 = poweroff for systemd
		# Once PID 1 is systemd-shutdown, units are stopped and it only waits for stragglers. It
		# waits in vain for a process whose parent is outside the manager (e.g. a test binary left
		# by a killed nsenter): it cannot reap that zombie. Nothing of value is left: kill it.
		local sd=0
		for i in $(seq 100); do
			alive "$p" "$pst" || break
			if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-shutdow ]; then
				sd=$((sd + 1))
				[ $sd -ge 5 ] && { kill -KILL "$p" 2>/dev/null; sleep 0.1; }
			fi
			sleep 0.1
		done
		if alive "$p" "$pst"; then
			echo "sdboot: $1: manager (pid $p) did not power off within 10 s, killing it" >&2
			kill -KILL "$p" 2>/dev/null
		fi
	fi
	# unshare exits when PID 1 exits; kill it if PID 1 never appeared
	for i in $(seq 20); do alive "$u" "$ust" || break; sleep 0.1; done
	alive "$u" "$ust" && kill -KILL "$u" 2>/dev/null
	cg_remove "$1"
	local rc=$?
	# the overlay, /run etc. live only in the manager's own mount namespace: on the host these are
	# plain directories; --one-file-system guards against anything mounted there by hand
	rm -rf --one-file-system "$S" "$ROOT/$1.share"
	return $rc
}

# stale_reason NAME: prints why NAME is stale and returns 0, or returns 1 if it is in use
stale_reason() {
	local S=$ROOT/$1 o='' ost='' p='' pst=''
	[ -f "$S/owner" ] || { echo "no owner record"; return 0; }
	read -r o ost < "$S/owner"
	if [ "$o" != none ] && ! alive "$o" "$ost"; then
		if procinfo "$o" >/dev/null; then echo "owner pid $o is gone (pid reused)"; else echo "owner pid $o is gone"; fi
		return 0
	fi
	[ -f "$S/pid" ] || { echo "never finished booting"; return 0; }
	read -r p pst < "$S/pid"
	alive "$p" "$pst" || { echo "manager pid $p is dead"; return 0; }
	return 1
}

# ---- the part that runs inside the new namespaces (as their PID 1, before exec'ing systemd) ----
boot_inner() { # S NAME CGMOUNTS CGROUP SHARE...
	set -eu
	local S=$1 NAME=$2 CGM=$3 CG=$4 M=$1/merged d p u c x mp fs opts keep hasctl ctrls
	shift 4
	mount -t tmpfs -o mode=755 tmpfs "$S/ovl"
	mkdir "$S/ovl/upper" "$S/ovl/work"
	# the upper layer must be on another filesystem than /, or the layers overlap
	mount -t overlay overlay -o "lowerdir=/,upperdir=$S/ovl/upper,workdir=$S/ovl/work" "$M"
	mount -t proc proc "$M/proc"
	# host-global sysctls and binfmt_misc must not be touched by the guest: /proc/sys read-only
	# (systemd-sysctl, systemd-binfmt and the binfmt_misc automount then skip themselves)
	for p in sys sysrq-trigger; do
		[ -e "$M/proc/$p" ] || continue
		mount --bind "$M/proc/$p" "$M/proc/$p"
		mount -o remount,bind,ro "$M/proc/$p"
	done
	mount -t sysfs -o ro sysfs "$M/sys"
	# minimal /dev: no host disks, no /dev/kmsg; /dev/console is a log file on the host
	mount -t tmpfs -o mode=755,nosuid tmpfs "$M/dev"
	for d in null zero full random urandom tty fuse net/tun; do
		[ -e "/dev/$d" ] || continue
		mkdir -p "$(dirname "$M/dev/$d")"
		touch "$M/dev/$d"
		mount --bind "/dev/$d" "$M/dev/$d"
	done
	mkdir "$M/dev/pts" "$M/dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$M/dev/pts"
	ln -s pts/ptmx "$M/dev/ptmx"
	ln -s /proc/self/fd "$M/dev/fd"
	for u in stdin:0 stdout:1 stderr:2; do ln -s "/proc/self/fd/${u#*:}" "$M/dev/${u%:*}"; done
	touch "$M/dev/console"
	mount --bind "$S/console.log" "$M/dev/console"
	# a pre-mounted /run (systemd keeps it); /run/dbus is the host dir $S/bus, so the system bus
	# has a stable host path
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$M/run"
	mkdir "$M/run/dbus"
	mount --bind "$S/bus" "$M/run/dbus"
	# fresh cgroup mounts: made inside the cgroup namespace, each one's root is our sub-cgroup
	ctrls=" $(awk 'NR > 1 && $4 == 1 { printf "%s ", $1 }' /proc/cgroups)"
	if grep -q '^/sys/fs/cgroup ' <<<"$CGM"; then # pure cgroup v2 host
		[ "$(wc -l <<<"$CGM")" = 1 ] || { echo "unsupported cgroup layout: $CGM" >&2; exit 1; }
		mount -t cgroup2 cgroup2 "$M/sys/fs/cgroup"
	elif [ "$CG" = unified ]; then
		# only the cgroup2 hierarchy (its root is our sub-cgroup of the host's): systemd sees
		# cgroup2 at /sys/fs/cgroup and runs unified. On a hybrid host the controllers stay bound
		# to the v1 hierarchies, so this tree has none of them (no memory, cpu, pids, ...). The
		# hierarchy's flags (nsdelegate, favordynmods, ...) are global, but a mount made outside
		# the init cgroup namespace leaves them as they are.
		mount -t cgroup2 cgroup2 "$M/sys/fs/cgroup"
	else
		mount -t tmpfs -o mode=755 tmpfs "$M/sys/fs/cgroup"
		while read -r mp fs opts; do
			mkdir -p "$M$mp"
			if [ "$fs" = cgroup2 ]; then
				mount -t cgroup2 cgroup2 "$M$mp"
				continue
			fi
			# v1: the controllers and name= must match the existing hierarchy exactly
			keep='' hasctl=0
			for x in ${opts//,/ }; do
				if [[ $x == name=* ]]; then
					keep+=,$x
				elif [[ $ctrls == *" $x "* ]]; then
					keep+=,$x hasctl=1
				fi
			done
			[ $hasctl = 1 ] || keep=,none$keep
			mount -t cgroup -o "${keep#,}" cgroup "$M$mp"
		done <<<"$CGM"
		mount -o remount,ro,bind "$M/sys/fs/cgroup" || true
	fi
	# trim what the host image would start through sysinit.target & co
	for u in postgresql.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
		man-db.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer e2scrub_reap.service \
		systemd-timesyncd.service console-getty.service sys-kernel-debug.mount \
		sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount \
		dev-hugepages.mount dev-mqueue.mount systemd-modules-load.service \
		proc-sys-fs-binfmt_misc.automount systemd-binfmt.service systemd-sysctl.service; do
		ln -sf /dev/null "$M/etc/systemd/system/$u"
	done
	# a minimal target, NOT multi-user.target (see the hazards at the top)
	printf '%s\n' "[Unit]" "Description=Minimal target of the tenement test manager" \
		"Wants=systemd-journald.socket systemd-journald.service dbus.socket dbus.service" \
		"After=systemd-journald.service dbus.service" "AllowIsolate=yes" \
		> "$M/etc/systemd/system/testmgr.target"
	echo "$NAME" > "$M/etc/hostname"
	hostname "$NAME"
	# host directories shared read-write at the same path
	for d in "$@"; do
		mkdir -p "$M$d"
		mount --rbind "$d" "$M$d"
	done
	cd "$M"
	mkdir -p .oldroot
	pivot_root . .oldroot
	umount -l /.oldroot
	rmdir /.oldroot
	# mounts shared inside (the namespace was made private: nothing reaches the host), as systemd
	# makes them when it boots a host but skips in a container: units' mount namespaces then see
	# what PID 1 mounts for them, e.g. the /run/credentials/UNIT of LoadCredential=
	mount --make-rshared /
	exec env -i container=tenement-testbed PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb \
		/lib/systemd/systemd --unit=testmgr.target --log-target=journal --show-status=no
}

# ---- subcommands ----
START_DONE=0 START_CREATED=0
start_exit() {
	local rc=$?
	[ $START_CREATED = 1 ] && [ $START_DONE = 0 ] || return
	[ $rc = 0 ] && rc=1
	{
		echo "sdboot: start $NAME failed; last lines of $S/unshare.log:"
		if [ -s "$S/unshare.log" ]; then tail -n 40 "$S/unshare.log" | sed 's/^/  | /'; else echo "  | (empty)"; fi
		if [ -s "$S/console.log" ]; then
			echo "sdboot: last lines of $S/console.log:"
			tail -n 20 "$S/console.log" | sed 's/^/  | /'
		fi
		if [ -n "${P:-}" ] && kill -0 "$P" 2>/dev/null; then
			echo "sdboot: the manager's journal (last lines) and failed units:"
			timeout 5 nsenter -t "$P" -a journalctl -b -n 25 --no-pager -o short-monotonic 2>&1 | sed 's/^/  | /'
			timeout 5 nsenter -t "$P" -a systemctl --failed --no-pager --no-legend 2>&1 | sed 's/^/  | /'
		fi
	} >&2
	do_stop "$NAME" >/dev/null 2>&1
	exit $rc
}

cmd_start() {
	NAME=$1
	local net=${NET:-private} cg=${CGROUP:-host} owner=${OWNER:-$PPID} ost=none netflag='' d mp fs opts cgm U c k st='' i lk
	P=
	case $net in private) netflag=--net ;; host) ;; *) die "NET must be private or host, not '$net'" ;; esac
	case $cg in host | unified) ;; *) die "CGROUP must be host or unified, not '$cg'" ;; esac
	for c in unshare nsenter setsid flock mount pivot_root find; do command -v $c >/dev/null || die "$c not found"; done
	[ -x /lib/systemd/systemd ] || die "/lib/systemd/systemd not found"
	if [ "$owner" != none ]; then ost=$(starttime "$owner") || die "OWNER $owner is not a running process"; fi
	for d in ${SHARE:-}; do
		if [[ $d != /* ]] || [ ! -d "$d" ]; then die "SHARE: '$d' is not an absolute path of a directory"; fi
	done
	cgm=$(cg_mounts)
	[ -n "$cgm" ] || die "no cgroup hierarchies under /sys/fs/cgroup"
	if [ "$cg" = unified ] && ! grep -q ' cgroup2 ' <<<"$cgm"; then
		die "CGROUP=unified needs a cgroup2 hierarchy on the host; it has only cgroup v1"
	fi
	mkdir -p "$ROOT"
	chmod 755 "$ROOT"
	S=$ROOT/$NAME
	# shared lock until pid+owner are written: cleanup-stale (exclusive) never sees a half-made dir
	exec {lk}<"$ROOT"
	flock -s "$lk"
	mkdir "$S" 2>/dev/null || die "$S already exists (name in use? try: $0 stop $NAME)"
	START_CREATED=1
	trap start_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	echo "$owner $ost" > "$S/owner"
	mkdir "$S/merged" "$S/ovl" "$S/bus"
	: > "$S/console.log"
	while read -r mp fs opts; do
		d=$mp/$CGPREFIX$NAME
		mkdir "$d" || exit 1
		if [ "$fs" = cgroup ] && [ -f "$d/cpuset.cpus" ]; then # v1 cpuset: empty until set
			cat "$mp/cpuset.cpus" > "$d/cpuset.cpus" && cat "$mp/cpuset.mems" > "$d/cpuset.mems" || exit 1
		fi
		# A unified manager on a hybrid host enforces no TasksMax= or MemoryMax= (its tree has
		# no controllers): a test that bombs by mistake would take the host down. Cap the whole
		# manager through its v1 sub-cgroups instead.
		if [ "$cg" = unified ] && [ "$fs" = cgroup ]; then
			if [ -f "$d/pids.max" ]; then echo "$UNIFIED_PIDS_MAX" > "$d/pids.max" || exit 1; fi
			if [ -f "$d/memory.limit_in_bytes" ]; then echo "$UNIFIED_MEMORY_MAX" > "$d/memory.limit_in_bytes" || exit 1; fi
		fi
	done <<<"$cgm"
	# the subshell joins the sub-cgroups, then becomes unshare; its child is the manager's PID 1
	(
		exec {lk}<&-
		while read -r mp fs opts; do echo "$BASHPID" > "$mp/$CGPREFIX$NAME/cgroup.procs" || exit 1; done <<<"$cgm"
		# shellcheck disable=SC2086
		exec setsid unshare --mount --pid --fork --uts --ipc --cgroup $netflag --propagation private \
			bash -c "$(declare -f boot_inner); boot_inner \"\$@\"" boot_inner "$S" "$NAME" "$cgm" "$cg" ${SHARE:-}
	) > "$S/unshare.log" 2>&1 < /dev/null &
	U=$!
	echo "$U $(starttime "$U")" > "$S/unshare.pid"
	# PID 1 = the child (grandchild if setsid had to fork) of unshare whose innermost pid is 1
	for i in $(seq 200); do
		for c in $(children "$U") $(for k in $(children "$U"); do children "$k"; done); do
			grep -qE '^NSpid:.*[[:space:]]1$' "/proc/$c/status" 2>/dev/null && P=$c && break 2
		done
		kill -0 "$U" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$P" ] || die "the manager's PID 1 did not appear"
	echo "$P $(starttime "$P")" > "$S/pid"
	read -r _ pst < "$S/pid"
	flock -u "$lk"
	exec {lk}<&-
	for i in $(seq 300); do
		alive "$P" "$pst" || die "the manager (pid $P) exited during boot"
		st=$(timeout 5 nsenter -t "$P" -a systemctl is-system-running 2>/dev/null)
		case $st in running | degraded) break ;; maintenance | stopping) die "manager state: $st" ;; esac
		sleep 0.1
	done
	case $st in running | degraded) ;; *) die "manager not ready after 30 s (state: ${st:-none})" ;; esac
	if [ "$net" = private ]; then
		if ! nsenter -t "$P" -n ip -o link show lo | grep -q '[<,]UP[,>]'; then
			nsenter -t "$P" -n ip link set lo up || die "cannot bring lo up"
		fi
	fi
	START_DONE=1
	echo "$P"
}

cmd_cleanup_stale() {
	local S n r o ost mp fs opts d lk
	[ -d "$ROOT" ] || return 0
	exec {lk}<"$ROOT"
	flock -x "$lk"
	for S in "$ROOT"/*/; do
		n=$(basename "$S")
		valid_name "$n" || continue
		r=$(stale_reason "$n") || continue
		do_stop "$n" >/dev/null
		echo "cleaned $n ($r)"
	done
	# share dirs whose manager state is gone (the Go harness creates NAME.share before NAME)
	for S in "$ROOT"/*.share; do
		[ -d "$S" ] || continue
		n=$(basename "$S" .share)
		if ! valid_name "$n" || [ -e "$ROOT/$n" ]; then continue; fi
		if [ -f "$S/.testbed-owner" ]; then
			read -r o ost < "$S/.testbed-owner"
			alive "$o" "$ost" && continue
		elif [ -z "$(find "$S" -maxdepth 0 -mmin +10)" ]; then
			continue # no owner record (yet): leave young dirs alone
		fi
		rm -rf --one-file-system "$S"
		echo "cleaned $n.share (owner gone)"
	done
	# sub-cgroups whose state dir is gone (e.g. an rmdir that failed earlier)
	while read -r mp fs opts; do
		for d in "$mp/$CGPREFIX"*; do
			[ -d "$d" ] || continue
			n=${d##*/"$CGPREFIX"}
			[ -e "$ROOT/$n" ] && continue
			cg_remove "$n" && echo "cleaned cgroups of $n"
		done
	done < <(cg_mounts)
	return 0
}

cmd_list() {
	local S n o p st
	printf '%-42s %-8s %-8s %s\n' NAME PID OWNER STATE
	for S in "$ROOT"/*/; do
		[ -d "$S" ] || continue
		n=$(basename "$S")
		valid_name "$n" || continue
		o=$(cut -d' ' -f1 "$S/owner" 2>/dev/null)
		p=$(cut -d' ' -f1 "$S/pid" 2>/dev/null)
		if st=$(stale_reason "$n"); then st="stale: $st"; else st=alive; fi
		printf '%-42s %-8s %-8s %s\n' "$n" "${p:--}" "${o:--}" "$st"
	done
}

cmd=${1:-}
case $cmd in
check-name) valid_name "${2:-}" ;;
start | stop)
	[ $# = 2 ] || die "usage: $0 $cmd NAME"
	valid_name "$2" || die "invalid name '$2' (want ^[a-z0-9][a-z0-9-]{0,40}\$)"
	[ "$(id -u)" = 0 ] || die "must run as root"
	if [ "$cmd" = start ]; then cmd_start "$2"; else do_stop "$2" && echo "stopped $2"; fi
	;;
cleanup-stale) [ "$(id -u)" = 0 ] || die "must run as root"; cmd_cleanup_stale ;;
list) cmd_list ;;
*) die "usage: $0 start|stop NAME | cleanup-stale | list" ;;
esac
