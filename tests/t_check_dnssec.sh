#!/bin/bash
# t_check_dnssec.sh - the DNSSEC finding of `stsguard check` (issue 14:
# "the shared resolver (libunbound, DNSSEC status included)") against
# zones signed by ldns-signzone and served by nsd, in a network
# namespace of the test's own (port 53 on its loopback):
#
#   test.          unsigned; delegates signed.test and expired.test to
#                  the same nsd; plain.test's records live here
#   signed.test    signed (ldns-keygen KSK + ZSK, ldns-signzone), valid
#   expired.test   signed with signatures that expired in 2020
#
# The trust anchor is the DS of each signed zone's KSK (ldns-key2ds):
# libunbound validates below a zone's own key without a chain from the
# root (test. is unsigned, and marked nodefault by the resolver).
# Cases: signed.test with the anchor is "secure" and its records are
# used; expired.test with it is bogus: exit 1, a dnssec failure naming
# the expired signatures and what to fix, and its records not used;
# plain.test with it is "insecure (unsigned)", no failure; without an
# anchor "not validated", also for expired.test (the anchor makes the
# difference); the setting dnssec_trust_anchor in the config file does
# what --trust-anchor does, and the flag overrides it; --json carries
# the finding with the keys of every other; an anchor file that cannot
# be read, or is no DS/DNSKEY, is a usage error naming the setting.
#
# Needs root (network namespace); the trap stops every daemon.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
for t in nsd dig ip nsenter ldns-keygen ldns-signzone ldns-key2ds; do
	command -v $t > /dev/null || { echo "$t missing (scripts/deps.sh)"; exit 1; }
done

netns_new "sgds$$" || exit 1
NX=("${NETNS_EXEC[@]}")

# --- the zones ------------------------------------------------------------
{
	zone_head
	cat <<'EOZ'
signed             NS    ns.test.
expired            NS    ns.test.
; plain.test: unsigned, in the unsigned parent
_mta-sts.plain     TXT   "v=STSv1; id=plain1;"
plain              MX    10 mx.plain.test.
_smtp._tls.plain   TXT   "v=TLSRPTv1; rua=mailto:tlsrpt@plain.test"
EOZ
} > "$DIR/test.zone"
NSD_EXTRA_ZONES=
: > "$DIR/anchors"
for z in signed expired; do
	cat > "$DIR/$z.zone" <<EOZ
\$ORIGIN $z.test.
\$TTL 60
@                  SOA   ns.test. admin.test. 1 3600 600 86400 60
@                  NS    ns.test.
_mta-sts           TXT   "v=STSv1; id=${z}1;"
@                  MX    10 mx.$z.test.
_smtp._tls         TXT   "v=TLSRPTv1; rua=mailto:tlsrpt@$z.test"
EOZ
	(
		cd "$DIR" || exit 1
		ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$z.test") &&
		    zsk=$(ldns-keygen -a ECDSAP256SHA256 "$z.test") || exit 1
		if [ $z = expired ]; then
			# Incepted in 2019, expired since 2020.
			ldns-signzone -i 20191201000000 -e 20200101000000 \
			    $z.zone "$zsk" "$ksk"
		else
			ldns-signzone $z.zone "$zsk" "$ksk"
		fi || exit 1
		ldns-key2ds -n -2 "$ksk.key" >> anchors
	) > "$DIR/ldns-$z.log" 2>&1 || { cat "$DIR/ldns-$z.log"; exit 1; }
	NSD_EXTRA_ZONES+="zone:
  name: $z.test
  zonefile: \"$DIR/$z.zone.signed\"
"
done
export NSD_EXTRA_ZONES
check "the anchor file: the DS of both KSKs" 2 \
    "$(grep -cE '^(signed|expired)\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+DS[[:space:]]' "$DIR/anchors")"
nsd_start "$DIR/test.zone" 53 "${NX[@]}" || exit 1
check "nsd serves the signed zone with signatures" 1 \
    "$("${NX[@]}" dig +dnssec +short @127.0.0.1 _mta-sts.signed.test TXT |
    grep -c '^TXT ')"

# --- the checks -------------------------------------------------------------
mkdir -p "$DIR/data"
printf 'service_host = stshost.test\n' > "$DIR/data/stsguard.conf"
ck() { # ck NAME ARGS...: stsguard check in the namespace; $DIR/NAME.out, rc
	"${NX[@]}" "$STSGUARD" --data-dir "$DIR/data" check \
	    --nameserver 127.0.0.1:53 "${@:2}" > "$DIR/$1.out" 2> "$DIR/$1.err"
	echo $? > "$DIR/$1.rc"
	sed "s/^/    $1| /" "$DIR/$1.out" "$DIR/$1.err"
}
rc() { cat "$DIR/$1.rc"; }
ndnssec() { grep -c ' dnssec ' "$DIR/$1.out"; }

ck signed signed.test --trust-anchor "$DIR/anchors"
grepf "signed: secure" "$DIR/signed.out" \
    'pass +dnssec +signed\.test: DNSSEC secure: _mta-sts\.signed\.test TXT, signed\.test MX, _smtp\._tls\.signed\.test TXT$'
grepf "signed: its STSv1 record used" "$DIR/signed.out" \
    'pass +sts-txt +_mta-sts\.signed\.test: one v=STSv1 record, id signed1'
check "signed: one DNSSEC finding" 1 "$(ndnssec signed)"

ck expired expired.test --trust-anchor "$DIR/anchors"
check "expired signatures: exit 1" 1 "$(rc expired)"
grepf "expired: a DNSSEC failure with libunbound's reason" \
    "$DIR/expired.out" \
    'FAIL +dnssec +_mta-sts\.expired\.test TXT: DNSSEC bogus: validation failure .*signature expired'
grepf "expired: what to fix" "$DIR/expired.out" \
    'fix: re-sign the zone .*DS record at the parent'
check "expired: the bogus STSv1 record is not used" 0 \
    "$(grep -c 'v=STSv1 record' "$DIR/expired.out")"
grepf "expired: the TXT lookup says bogus" "$DIR/expired.out" \
    'FAIL +sts-txt +_mta-sts\.expired\.test: .*DNSSEC bogus'
check "expired: one DNSSEC finding" 1 "$(ndnssec expired)"

ck plain plain.test --trust-anchor "$DIR/anchors"
grepf "plain: insecure (unsigned), a note" "$DIR/plain.out" \
    'info +dnssec +plain\.test: DNSSEC insecure \(unsigned\): _mta-sts\.plain\.test TXT, plain\.test MX, _smtp\._tls\.plain\.test TXT$'
check "plain: no DNSSEC failure or warning" 0 \
    "$(grep -cE '(FAIL|warn) +dnssec' "$DIR/plain.out")"

ck noanchor signed.test
grepf "no anchor: not validated, and how to" "$DIR/noanchor.out" \
    'info +dnssec +signed\.test: DNSSEC not validated \(no trust anchor set; set dnssec_trust_anchor\)$'
ck noanchor2 expired.test
grepf "no anchor: expired.test not validated either" "$DIR/noanchor2.out" \
    'info +dnssec +expired\.test: DNSSEC not validated'
grepf "no anchor: expired.test's records read as they are" \
    "$DIR/noanchor2.out" 'pass +sts-txt +_mta-sts\.expired\.test: one v=STSv1 record'

# The setting in the config file; the flag overrides it.
printf 'service_host = stshost.test\ndnssec_trust_anchor = %s\n' \
    "$DIR/anchors" > "$DIR/data/stsguard.conf"
ck setting signed.test
grepf "the setting dnssec_trust_anchor: secure" "$DIR/setting.out" \
    'pass +dnssec +signed\.test: DNSSEC secure'
grep -v '^expired' "$DIR/anchors" > "$DIR/anchors-signed"
ck override expired.test --trust-anchor "$DIR/anchors-signed"
grepf "--trust-anchor overrides the setting (no anchor for expired.test: unsigned)" \
    "$DIR/override.out" 'info +dnssec +expired\.test: DNSSEC insecure \(unsigned\)'

ck json signed.test expired.test --json
check "--json: exit 1 (expired.test fails)" 1 "$(rc json)"
check "--json: the dnssec findings, with every finding's keys" \
    "signed.test pass DNSSEC secure|expired.test fail DNSSEC bogus" \
    "$($PY -c 'import json, sys
out = []
for d in json.load(open(sys.argv[1])):
    keys = {tuple(sorted(f)) for f in d["findings"]}
    assert len(keys) == 1, keys
    for f in d["findings"]:
        if f["area"] == "dnssec":
            assert f["fix"] or f["level"] != "fail"
            out.append("%s %s %s" % (d["domain"], f["level"],
                " ".join(f["text"].split()[:2]).rstrip(":")))
print("|".join(out))' "$DIR/json.out")"

printf 'service_host = stshost.test\n' > "$DIR/data/stsguard.conf"
ck missing signed.test --trust-anchor "$DIR/nonexistent"
check "an anchor file that is not there: exit 2" 2 "$(rc missing)"
grepf "missing: the setting and the file named" "$DIR/missing.err" \
    "dnssec_trust_anchor $DIR/nonexistent: No such file"
printf 'not a record\n' > "$DIR/junk"
ck junk signed.test --trust-anchor "$DIR/junk"
check "an anchor file of no DS or DNSKEY: exit 2" 2 "$(rc junk)"
grepf "junk: says what the file must hold" "$DIR/junk.err" \
    'the dnssec_trust_anchor file is not DS or DNSKEY records'
finish
