# shellcheck shell=bash disable=SC2086,SC2154 # e2e-endpoint.sh sets prefix, image, out... (no blanks)
# The testbed itself: it prints its export lines again on demand, and keeps the vSphere password
# to root (its directory, and the credentials, env and vcsim.out files that hold it).

header "the testbed keeps the vSphere password to root"
run bash scripts/testbed.sh env
expect_out "^export VIC_VCH=$VIC_VCH\$" "scripts/testbed.sh env prints the export lines again"
run stat -c '%a %U' "$VIC_TESTBED_DIR"
expect_out '^700 root$' "the testbed's directory $VIC_TESTBED_DIR is root's alone"
for f in credentials env vcsim.out; do
	run stat -c '%a %U' "$VIC_TESTBED_DIR/$f"
	expect_out '^600 root$' "$f, which holds the password, is root-only"
done
# The credentials file's line with the password itself: the plugin's binary holds the bare
# words VIC_PASSWORD= in its help.
password=${VIC_TARGET#*://} password=${password%%@*} password=${password#*:}
run sh -c "find '$VIC_TESTBED_DIR' -type f -perm /044 -print0 | xargs -0 -r grep -lF -e '$VIC_TARGET' -e 'VIC_PASSWORD=$password' || true"
if [ ! -s "$out" ]; then pass "no file of the testbed that others may read holds the password"; else
	fail "no file of the testbed that others may read holds the password" "no such file"
fi
expect_credentials_file "vic-endpoint reads the login from the credentials file, not from its command line"
