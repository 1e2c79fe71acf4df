#!/bin/bash
# t_install.sh - `make install`: with DESTDIR (staging, PREFIX
# /usr/local, then PREFIX=/usr), the binary (0755, the one built, and it
# runs), stsguard.8 and stsguard.conf.5 (0644, where man(1) finds them
# through MANPATH), the unit (0644, its ExecStart naming the installed
# binary); nothing else. Then an install without DESTDIR into a prefix
# of its own, whose unit `systemd-analyze verify` takes as it is (the
# binary and the man pages it names are really there), and `make
# uninstall` leaves no file behind.
set -u
. "$(dirname "$0")/lib.sh"
MK=(make -s -C "$TOP" BUILD="$BUILD")

# --- DESTDIR, PREFIX /usr/local ------------------------------------------
D="$DIR/stage"
"${MK[@]}" install DESTDIR="$D" > "$DIR/make.out" 2>&1 ||
    { bad "make install DESTDIR: $(tail -5 "$DIR/make.out")"; exit 1; }
ok "make install DESTDIR=$D"
(cd "$D" && find . -type f -printf '%m %p\n' | sort) > "$DIR/files"
check "the files and their modes" "$(printf '%s\n' \
    '644 ./usr/local/lib/systemd/system/stsguard.service' \
    '644 ./usr/local/share/man/man5/stsguard.conf.5' \
    '644 ./usr/local/share/man/man8/stsguard.8' \
    '755 ./usr/local/bin/stsguard')" "$(cat "$DIR/files")"
if cmp -s "$D/usr/local/bin/stsguard" "$STSGUARD"; then
	ok "the installed binary is the one built"
else bad "the installed binary differs from $STSGUARD"; fi
check "it runs" "stsguard 0.1.0" "$("$D/usr/local/bin/stsguard" --version)"
check "man pages as shipped" "same same" "$(cmp -s \
    "$D/usr/local/share/man/man8/stsguard.8" "$TOP/docs/man/stsguard.8" &&
    echo same) $(cmp -s "$D/usr/local/share/man/man5/stsguard.conf.5" \
    "$TOP/docs/man/stsguard.conf.5" && echo same)"
check "man finds stsguard(8) and stsguard.conf(5) in the MANPATH" \
    "$D/usr/local/share/man/man8/stsguard.8 $D/usr/local/share/man/man5/stsguard.conf.5" \
    "$(MANPATH="$D/usr/local/share/man" man -w 8 stsguard) $(
    MANPATH="$D/usr/local/share/man" man -w 5 stsguard.conf)"
check "the unit starts /usr/local/bin/stsguard" \
    "ExecStart=/usr/local/bin/stsguard --data-dir /var/lib/stsguard serve" \
    "$(grep '^ExecStart=' "$D/usr/local/lib/systemd/system/stsguard.service")"

# --- DESTDIR, PREFIX /usr ---------------------------------------------------
D2="$DIR/stage2"
"${MK[@]}" install DESTDIR="$D2" PREFIX=/usr > "$DIR/make2.out" 2>&1 ||
    bad "make install PREFIX=/usr: $(tail -5 "$DIR/make2.out")"
check "PREFIX=/usr: /usr/bin, /usr/share/man, /usr/lib/systemd/system" \
    "./usr/bin/stsguard ./usr/lib/systemd/system/stsguard.service ./usr/share/man/man5/stsguard.conf.5 ./usr/share/man/man8/stsguard.8" \
    "$(cd "$D2" && find . -type f | sort | tr '\n' ' ' | sed 's/ $//')"
check "PREFIX=/usr: the unit starts /usr/bin/stsguard" \
    "ExecStart=/usr/bin/stsguard --data-dir /var/lib/stsguard serve" \
    "$(grep '^ExecStart=' "$D2/usr/lib/systemd/system/stsguard.service")"

# --- a prefix of its own: the installed unit verifies as it is -------------
P="$DIR/prefix"
"${MK[@]}" install PREFIX="$P" > "$DIR/make3.out" 2>&1 ||
    bad "make install PREFIX=$P: $(tail -5 "$DIR/make3.out")"
if command -v systemd-analyze > /dev/null; then
	MANPATH="$P/share/man" systemd-analyze verify \
	    "$P/lib/systemd/system/stsguard.service" > "$DIR/verify.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$DIR/verify.out" ]; then
		ok "systemd-analyze verify of the installed unit: clean"
	else
		bad "verify (exit $rc): $(head -5 "$DIR/verify.out")"
	fi
else
	echo "note: no systemd-analyze here: t_systemd.sh fails for it"
fi
"${MK[@]}" uninstall PREFIX="$P" > /dev/null 2>&1
check "make uninstall leaves no file" "" "$(find "$P" -type f)"
finish
