/*
 * The primitives under every credential: base64url without padding (one
 * encoding per value), SHA-256 and HMAC-SHA-256 against the published
 * vectors, the constant-time comparison and lowercase hex.
 */
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tap.h"

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decodes a test's hex text into out; returns the byte count. */
static size_t
unhex(const char *hex, unsigned char *out, size_t outsz)
{
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 != 0 || n > outsz) {
		printf("Bail out! bad test hex %s\n", hex);
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			printf("Bail out! bad test hex %s\n", hex);
			exit(2);
		}
		out[i] = (unsigned char)b;
	}
	return n;
}

/* The length of unpadded base64 of n bytes. */
static size_t
b64len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

static void
test_b64_vectors(void)
{
	/* RFC 4648 §10, in the url alphabet and without the padding. */
	static const char *const v[][2] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
	};
	/* Bytes whose standard encoding uses '+' and '/'. */
	static const struct {
		const char	*hex;
		const char	*b64;
	} url[] = {
		{ "fbff", "-_8" }, { "fbffbf", "-_-_" }, { "f8", "-A" },
		{ "fc", "_A" }, { "03e0", "A-A" }, { "000000", "AAAA" },
		{ "ffffff", "____" },
		{ "14fb9c03d97e", "FPucA9l-" },
	};
	char out[64];
	unsigned char bin[64], raw[16];
	size_t n;
	long got;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i][0]);
		memset(out, '#', sizeof(out));
		is_int(crypto_b64url_encode((const unsigned char *)v[i][0], n,
		    out, sizeof(out)), strlen(v[i][1]),
		    "encode \"%s\": returns the length", v[i][0]);
		is_str(out, v[i][1], "encode \"%s\" = \"%s\"", v[i][0],
		    v[i][1]);
		memset(bin, 0xa5, sizeof(bin));
		got = crypto_b64url_decode(v[i][1], strlen(v[i][1]), bin,
		    sizeof(bin));
		is_int(got, n, "decode \"%s\": %zu bytes", v[i][1], n);
		ok(got == (long)n && memcmp(bin, v[i][0], n) == 0,
		    "decode \"%s\" = \"%s\"", v[i][1], v[i][0]);
	}
	for (size_t i = 0; i < sizeof(url) / sizeof(url[0]); i++) {
		n = unhex(url[i].hex, raw, sizeof(raw));
		crypto_b64url_encode(raw, n, out, sizeof(out));
		is_str(out, url[i].b64, "encode %s = %s (url alphabet)",
		    url[i].hex, url[i].b64);
		got = crypto_b64url_decode(url[i].b64, strlen(url[i].b64), bin,
		    sizeof(bin));
		ok(got == (long)n && memcmp(bin, raw, n) == 0,
		    "decode %s = %s", url[i].b64, url[i].hex);
	}
}

static void
test_b64_roundtrip(void)
{
	unsigned char in[100], back[120];
	char out[200];
	int bad_len = 0, bad_chars = 0, bad_back = 0, bad_nul = 0;
	int bad_exact = 0;

	/* Every byte value occurs, in every position modulo 3. */
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 167 + 13);
	for (size_t n = 0; n <= 100; n++) {
		size_t len, exact = b64len(n) + 1;
		long got;

		memset(out, '#', sizeof(out));
		len = crypto_b64url_encode(in, n, out, sizeof(out));
		if (len != b64len(n) || strlen(out) != len)
			bad_len++;
		if (strspn(out, B64URL) != len)
			bad_chars++;
		got = crypto_b64url_decode(out, len, back, sizeof(back));
		if (got != (long)n || memcmp(back, in, n) != 0)
			bad_back++;
		/* The buffer the header promises is enough, and no byte more. */
		memset(out, '#', sizeof(out));
		len = crypto_b64url_encode(in, n, out, exact);
		if (len != b64len(n) || out[len] != '\0')
			bad_exact++;
		if (out[exact] != '#')
			bad_nul++;
	}
	is_int(bad_len, 0, "encode: lengths 0..100 give ceil(4n/3) characters "
	    "and a NUL");
	is_int(bad_chars, 0, "encode: only the url alphabet, never '=', '+' "
	    "or '/'");
	is_int(bad_back, 0, "decode(encode(x)) == x for lengths 0..100");
	is_int(bad_exact, 0, "encode: a buffer of exactly length+1 holds the "
	    "whole text and its NUL");
	is_int(bad_nul, 0, "encode: nothing is written past outsz");

	/*
	 * Every buffer too small, for every length: the text is cut, stays
	 * NUL-terminated inside outsz and is a prefix of the whole encoding.
	 */
	{
		int bad_cut = 0, bad_prefix = 0, bad_over = 0;
		char full[200];

		for (size_t n = 1; n <= 40; n++) {
			size_t whole = crypto_b64url_encode(in, n, full,
			    sizeof(full));

			for (size_t sz = 1; sz <= whole; sz++) {
				size_t len;

				memset(out, '#', sizeof(out));
				len = crypto_b64url_encode(in, n, out, sz);
				if (len >= sz || out[len] != '\0')
					bad_cut++;
				else if (strncmp(out, full, len) != 0)
					bad_prefix++;
				if (out[sz] != '#')
					bad_over++;
			}
		}
		is_int(bad_cut, 0, "encode: a short buffer gets a cut text and "
		    "its NUL inside outsz");
		is_int(bad_prefix, 0, "encode: the cut text is a prefix of the "
		    "whole");
		is_int(bad_over, 0, "encode: never a byte past a short outsz");
	}
	/* Too small a buffer cuts at a group and stays NUL-terminated. */
	memset(out, '#', sizeof(out));
	is_int(crypto_b64url_encode((const unsigned char *)"foobar", 6, out, 6),
	    4, "encode: 6 bytes into 6: one whole group");
	is_str(out, "Zm9v", "encode: the cut text is terminated");
	is_int(out[6], '#', "encode: nothing written past a small outsz");
	/* The decoder never writes past outsz. */
	memset(back, 0xa5, sizeof(back));
	is_int(crypto_b64url_decode("Zm9vYmFy", 8, back, 5), -1,
	    "decode: 6 bytes do not fit in 5: -1");
	is_int(back[5], 0xa5, "decode: nothing written past outsz");
	is_int(crypto_b64url_decode("Zm9vYmFy", 8, back, 6), 6,
	    "decode: 6 bytes fit in exactly 6");
	/* n, not the NUL, ends the input. */
	is_int(crypto_b64url_decode("Zm9vYmFy", 4, back, sizeof(back)), 3,
	    "decode: reads only n characters");
}

/* s with control and non-ASCII bytes as \xNN, for a test's name. */
static const char *
printable(const char *s, char *buf, size_t bufsz)
{
	size_t o = 0;

	for (; *s != '\0' && o + 5 < bufsz; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static void
test_b64_refused(void)
{
	static const char *const bad[] = {
		"Zm9v+A", "Zm9v/A", "Zm9vYg==", "Zg==", "Zg=", "Zm8=",
		"Zm9v YmFy", "Zm9v\nYmFy", "Zm9v.YmFy", "Zm9vYmF*", "Zm9vYmF~",
		"Zm9\xc3\xa9", "Z", "Zm9vY", "Zm9vYmFyZ", "=", "====",
		"Zh", "Zm9", "Zm-", "AB", "AAB", "-_9",
		/* Length 1 mod 4 with no stray bits: refused for the length. */
		"A", "Zm9vA", "AAAAA", "Zm9vYmFyA",
	};
	unsigned char out[64];
	char name[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(crypto_b64url_decode(bad[i], strlen(bad[i]), out,
		    sizeof(out)), -1, "decode refuses \"%s\"",
		    printable(bad[i], name, sizeof(name)));
	/* A NUL inside the counted input is not a character. */
	is_int(crypto_b64url_decode("Zm\0v", 4, out, sizeof(out)), -1,
	    "decode refuses a NUL inside the input");
	/*
	 * The last character of a 2-character text carries 4 unused bits:
	 * only the 4 characters with them zero are taken, so no value has
	 * two encodings.
	 */
	{
		char taken[65] = "";
		size_t nt = 0;

		for (const char *c = B64URL; *c != '\0'; c++) {
			char two[3] = { 'Z', *c, '\0' };

			if (crypto_b64url_decode(two, 2, out, sizeof(out)) == 1)
				taken[nt++] = *c;
		}
		taken[nt] = '\0';
		is_str(taken, "AQgw", "decode: after 'Z' only A, Q, g, w end a "
		    "2-character text");
	}
}

static void
hex_is(const unsigned char *got, size_t n, const char *want, const char *what)
{
	char hex[2 * 64 + 1];

	crypto_hex(got, n, hex);
	is_str(hex, want, "%s", what);
}

static void
test_sha256(void)
{
	/* FIPS 180-2 appendix B and the empty message. */
	static const char *const v[][2] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1" },
	};
	unsigned char md[HB_SHA256_LEN];
	char *million;
	int rc = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(md, 0, sizeof(md));
		rc |= crypto_sha256(v[i][0], strlen(v[i][0]), md);
		hex_is(md, sizeof(md), v[i][1], v[i][0][0] != '\0' ?
		    "SHA-256 of a FIPS 180-2 message" : "SHA-256 of \"\"");
	}
	million = malloc(1000000);
	if (million == NULL)
		abort();
	memset(million, 'a', 1000000);
	rc |= crypto_sha256(million, 1000000, md);
	free(million);
	hex_is(md, sizeof(md), "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0",
	    "SHA-256 of a million 'a' (FIPS 180-2 B.3)");
	/* n bytes, not the string: the NUL and what follows count. */
	rc |= crypto_sha256("abc\0def", 3, md);
	hex_is(md, sizeof(md), "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad", "SHA-256 reads exactly n bytes");
	is_int(rc, 0, "SHA-256 reports each digest made");
}

static void
test_hmac(void)
{
	/* RFC 4231 test cases 1-4, 6 and 7 (5 is truncated: below). */
	static const struct {
		const char	*key;	/* hex */
		const char	*data;	/* hex, or text when it starts with ':' */
		const char	*mac;
	} v[] = {
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", ":Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b"
		  "881dc200c9833da726e9376c2e32cff7" },
		{ "4a656665", ":what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c7"
		  "5a003f089d2739839dec58b964ec3843" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "dddddddddddddddddddddddddddddddddddddddddddddddddd"
		  "dddddddddddddddddddddddddddddddddddddddddddddddddd",
		  "773ea91e36800e46854db8ebd09181a7"
		  "2959098b3ef8c122d9635514ced565fe" },
		{ "0102030405060708090a0b0c0d0e0f10111213141516171819",
		  "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		  "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		  "82558a389a443c0ea4cc819899f2083a"
		  "85f0faa3e578f8077a2e3ff46729665b" },
		{ NULL, ":Test Using Larger Than Block-Size Key - Hash Key First",
		  "60e431591ee0b67f0d8a26aacbf5b77f"
		  "8e0bc6213728c5140546040f0ee37f54" },
		{ NULL, ":This is a test using a larger than block-size key "
		  "and a larger than block-size data. The key needs to be "
		  "hashed before being used by the HMAC algorithm.",
		  "9b09ffa71b942fcb27635fbcd5b0e944"
		  "bfdc63644f0713938a7f51535c3a35e2" },
	};
	static const int tc[] = { 1, 2, 3, 4, 6, 7 };
	unsigned char key[200], data[200], md[HB_SHA256_LEN];
	size_t kn, dn;
	int rc = 0;
	char what[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (v[i].key != NULL)
			kn = unhex(v[i].key, key, sizeof(key));
		else {
			kn = 131;	/* 0xaa repeated 131 times */
			memset(key, 0xaa, kn);
		}
		if (v[i].data[0] == ':') {
			dn = strlen(v[i].data + 1);
			memcpy(data, v[i].data + 1, dn);
		} else
			dn = unhex(v[i].data, data, sizeof(data));
		memset(md, 0, sizeof(md));
		rc |= crypto_hmac_sha256(key, kn, data, dn, md);
		snprintf(what, sizeof(what), "HMAC-SHA-256: RFC 4231 case %d",
		    tc[i]);
		hex_is(md, sizeof(md), v[i].mac, what);
	}
	memset(key, 0x0c, 20);
	rc |= crypto_hmac_sha256(key, 20, "Test With Truncation", 20, md);
	hex_is(md, 16, "a3b6167473100ee06e0c796c2955552b",
	    "HMAC-SHA-256: RFC 4231 case 5 (first 128 bits)");
	/* keylen counts: the MAC under "Jef" is not case 2's under "Jefe". */
	rc |= crypto_hmac_sha256("Jefe", 3, "what do ya want for nothing?", 28,
	    md);
	{
		char h[2 * HB_SHA256_LEN + 1];

		crypto_hex(md, sizeof(md), h);
		ok(strcmp(h, v[1].mac) != 0, "HMAC-SHA-256 uses keylen bytes "
		    "of the key");
	}
	is_int(rc, 0, "HMAC-SHA-256 reports each MAC made");
	/* A key longer than OpenSSL takes is refused, not cut short. */
	is_int(crypto_hmac_sha256(key, (size_t)INT_MAX + 1, "x", 1, md), -1,
	    "HMAC-SHA-256 refuses a key longer than INT_MAX");
}

static void
test_equal(void)
{
	unsigned char a[64], b[64];

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 7);
	ok(crypto_equal(a, b, sizeof(a)), "crypto_equal: equal buffers");
	ok(crypto_equal(a, b, 0), "crypto_equal: 0 bytes are equal");
	b[0] ^= 1;
	ok(!crypto_equal(a, b, sizeof(a)), "crypto_equal: first byte differs");
	ok(crypto_equal(a + 1, b + 1, sizeof(a) - 1),
	    "crypto_equal: compares only the n bytes given");
	b[0] ^= 1;
	b[63] ^= 0x80;
	ok(!crypto_equal(a, b, sizeof(a)), "crypto_equal: last byte differs "
	    "(high bit)");
	ok(crypto_equal(a, b, 63), "crypto_equal: a difference past n is "
	    "not seen");
	b[63] ^= 0x80;
	b[31] = (unsigned char)(a[31] + 1);
	ok(!crypto_equal(a, b, sizeof(a)), "crypto_equal: middle byte differs");
	ok(crypto_equal("abc\0x", "abc\0y", 4),
	    "crypto_equal: a NUL does not end the comparison early...");
	ok(!crypto_equal("abc\0x", "abc\0y", 5),
	    "crypto_equal: ...nor hide what follows it");
}

static void
test_hex(void)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
	    0xcd, 0xef, 0xff, 0x10, 0x09 };
	char out[2 * sizeof(in) + 2];

	memset(out, '#', sizeof(out));
	crypto_hex(in, sizeof(in), out);
	is_str(out, "00017f80abcdefff1009", "crypto_hex: lowercase, two "
	    "digits a byte");
	is_int(out[2 * sizeof(in) + 1], '#', "crypto_hex: writes 2n+1 bytes");
	memset(out, '#', sizeof(out));
	crypto_hex(in, 0, out);
	is_str(out, "", "crypto_hex: 0 bytes give \"\"");
	crypto_hex(in + 4, 1, out);
	is_str(out, "ab", "crypto_hex: one byte");
}

static void
test_random(void)
{
	unsigned char a[32], b[32], zero[32] = { 0 };
	char sentinel[4] = "abc";

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	is_int(crypto_random(a, sizeof(a)), 0, "crypto_random: 0");
	is_int(crypto_random(b, sizeof(b)), 0, "crypto_random: 0 again");
	ok(memcmp(a, zero, sizeof(a)) != 0, "crypto_random fills the buffer");
	ok(memcmp(a, b, sizeof(a)) != 0, "crypto_random: two draws differ");
	is_int(crypto_random(sentinel, 0), 0, "crypto_random: 0 bytes is fine");
	is_str(sentinel, "abc", "crypto_random: 0 bytes writes nothing");
}

int
main(void)
{
	plan(123);
	test_b64_vectors();
	test_b64_roundtrip();
	test_b64_refused();
	test_sha256();
	test_hmac();
	test_equal();
	test_hex();
	test_random();
	return done_testing();
}
