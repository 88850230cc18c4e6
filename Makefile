# Homebot: `make run` serves it, `make check` tests it. Both install what
# they need first (see scripts/deps.sh).

VERSION		:= 0.1.0
SCHEMA_VERSION	:= $(shell ls schema 2>/dev/null | grep -E '^[0-9]{4}_[a-z0-9_]+\.sql$$' | grep -v '\.down\.sql$$' | sort | tail -n 1 | cut -c1-4)
PREFIX		?= /opt/homebot
SYSCONFDIR	?= /etc/homebot
RUNTIME		?= homebot

# COVERAGE=1: gcov counters at -O0, so every line and branch of the
# source is one of the object (make coverage).
ifeq ($(COVERAGE),1)
BUILD		?= build-coverage
SANFLAGS	:= --coverage -DHB_COVERAGE
OPT		:= -O0
else ifeq ($(SANITIZE),1)
BUILD		?= build-asan
SANFLAGS	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT		:= -O1
else ifeq ($(SANITIZE),fuzz)
# libFuzzer's coverage in the library, its main() only in each harness.
BUILD		?= build-fuzz
CC		:= clang-14
SANFLAGS	:= -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT		:= -O1
else
BUILD		?= build
SANFLAGS	:=
OPT		:= -O2 -D_FORTIFY_SOURCE=2
endif

CC		?= cc
CFLAGS		+= -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wformat=2 \
		   -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
		   $(OPT) -g -fstack-protector-strong -fPIE -fno-strict-aliasing \
		   -I/usr/include/postgresql -Ilib -I$(BUILD)/gen $(SANFLAGS)
LDFLAGS		+= -pie -Wl,-z,relro,-z,now $(SANFLAGS)
LDLIBS		:= -lfcgi -lpq -ljson-c -ljwt -luuid -lcrypt -lcrypto -lcrack -loath -lqrencode
# Only what sends mail links libcurl: the request path stays without it.
MAIL_LINKED	= $(BUILD)/bin/homebot-worker $(BUILD)/tests/unit/mail.t \
		  $(BUILD)/tests/unit/mail_smtp.t $(BUILD)/tests/fuzz/mail_render

# version.h changes only when a version does, so only then are the
# programs that include it rebuilt.
VERSION_H	:= $(BUILD)/gen/version.h
_		:= $(shell mkdir -p $(BUILD)/gen && \
		   printf '\043define HB_VERSION "%s"\n\043define HB_SCHEMA_VERSION "%s"\n' \
		   '$(VERSION)' '$(SCHEMA_VERSION)' >$(VERSION_H).tmp && \
		   { cmp -s $(VERSION_H).tmp $(VERSION_H) || mv $(VERSION_H).tmp $(VERSION_H); } ; \
		   rm -f $(VERSION_H).tmp)

LIB_SRC		:= $(wildcard lib/*.c)
LIB_OBJ		:= $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB		:= $(BUILD)/lib/libhomebot.a
# The same objects position-independent, for the broker's plugin (a
# shared object): the programs keep their -fPIE build.
PIC_OBJ		:= $(LIB_SRC:lib/%.c=$(BUILD)/pic/%.o)
PIC_LIB		:= $(BUILD)/lib/libhomebot_pic.a
PLUGIN		:= $(BUILD)/lib/homebot_mqtt.so
# The broker is built without sanitizers, and AddressSanitizer's runtime
# preloaded into it deadlocks in libpq's first connect: the plugin gets
# UBSan alone under SANITIZE=1 (its runtime loads with the plugin), and no
# coverage or fuzzing instrumentation.
PIC_CFLAGS	:= $(filter-out $(SANFLAGS),$(CFLAGS))
ifeq ($(SANITIZE),1)
PIC_SAN		:= -fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
PROG_SRC	:= $(wildcard cgi-bin/*.c)
PROGS		:= $(PROG_SRC:%.c=$(BUILD)/%)
TOOL_SRC	:= $(wildcard tools/*.c)
TOOLS		:= $(TOOL_SRC:tools/%.c=$(BUILD)/bin/homebot-%)
UNIT_SRC	:= $(wildcard tests/unit/*.c)
UNIT_TESTS	:= $(UNIT_SRC:%.c=$(BUILD)/%.t)
SWAGGER		:= node_modules/swagger-ui-dist
SHARE		:= $(BUILD)/share/openapi.json $(BUILD)/share/swagger-init.js \
		   $(addprefix $(BUILD)/share/,swagger-ui.css swagger-ui-bundle.js \
		   swagger-ui-standalone-preset.js favicon-32x32.png)
ACCOUNT		:= $(patsubst web/%,$(BUILD)/share/%,$(wildcard web/account/*))
# The web servers' own error documents, all written at once by
# homebot-errdocs from the table in lib/http.c.
ERRDOCS		:= $(BUILD)/share/errors/400.html
FUZZ_SRC	:= $(wildcard tests/fuzz/*.c)
FUZZERS		:= $(FUZZ_SRC:%.c=$(BUILD)/%)
FUZZ_SECONDS	?= 60

.PHONY: all build deps run check test-unit lint bench install clean superadmin \
		backup restore fuzz fuzzers coverage vault-rotate

# deps runs first and on its own: make reads directories once, so files
# npm ci creates are only seen by a second make.
all: deps
	@$(MAKE) --no-print-directory build

build: $(LIB) $(PLUGIN) $(PROGS) $(TOOLS) $(UNIT_TESTS) $(SHARE) $(ACCOUNT) $(ERRDOCS)

deps:
	@scripts/deps.sh

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	@echo "CC $@"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@echo "AR $@"
	@ar rcs $@ $^

$(BUILD)/pic/%.o: lib/%.c
	@mkdir -p $(@D)
	@echo "CC $@"
	@$(CC) $(PIC_CFLAGS) $(PIC_SAN) -fPIC -MMD -MP -c -o $@ $<

$(PIC_LIB): $(PIC_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	@echo "AR $@"
	@ar rcs $@ $^

# The Mosquitto plugin (mqtt/): its broker symbols come from the broker.
$(PLUGIN): mqtt/homebot_auth.c $(PIC_LIB)
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(PIC_CFLAGS) $(PIC_SAN) -fPIC -MMD -MP -shared -Wl,-z,relro,-z,now \
		-o $@ $< $(PIC_LIB) $(LDLIBS)

$(BUILD)/cgi-bin/%: cgi-bin/%.c $(LIB)
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/bin/homebot-%: tools/%.c $(LIB)
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/unit/%.t: tests/unit/%.c tests/unit/tap.h $(LIB)
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) -Itests/unit -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/unit/fakecgi.h $(LIB)
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests/unit -MMD -MP $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/share/openapi.json: docs/openapi.json
	@mkdir -p $(@D)
	@cp $< $@

$(BUILD)/share/swagger-init.js: docs/swagger-init.js
	@mkdir -p $(@D)
	@cp $< $@

$(BUILD)/share/account/%: web/account/%
	@mkdir -p $(@D)
	@cp $< $@

$(ERRDOCS): $(BUILD)/bin/homebot-errdocs
	@rm -rf $(@D)
	@mkdir -p $(@D)
	@echo "GEN $(@D)"
	@$< $(@D)

$(BUILD)/share/%: $(SWAGGER)/%
	@mkdir -p $(@D)
	@cp $< $@

$(MAIL_LINKED): LDLIBS += -lcurl
# Only the worker publishes to the MQTT broker (lib/mqtt_pub.c).
$(BUILD)/bin/homebot-worker: LDLIBS += -lmosquitto

-include $(LIB_OBJ:.o=.d) $(PIC_OBJ:.o=.d) $(PLUGIN:.so=.d) $(PROGS:=.d) $(TOOLS:=.d) $(UNIT_TESTS:.t=.d) \
	$(FUZZERS:=.d)

# The unit tests with the PostgreSQL some of them need (scripts/check.sh).
test-unit: $(UNIT_TESTS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/check.sh unit

lint:
	npx --no-install redocly lint docs/openapi.json
	scripts/include-cycles.py

# make fuzz [FUZZ_SECONDS=60]: every harness of tests/fuzz/, built with
# libFuzzer, ASan and UBSan in build-fuzz/, run for FUZZ_SECONDS each;
# or for FUZZ_RUNS executions each, and only the harnesses in FUZZ_ONLY.
fuzz: deps
	@$(MAKE) --no-print-directory SANITIZE=fuzz BUILD=build-fuzz fuzzers
	@FUZZ_RUNS="$(FUZZ_RUNS)" FUZZ_ONLY="$(FUZZ_ONLY)" \
	    scripts/fuzz.sh build-fuzz "$(FUZZ_SECONDS)"

fuzzers: $(FUZZERS)

run: all
	@BUILD=$(BUILD) scripts/stack.sh run

check: all
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) scripts/check.sh

# make coverage: the unit tests and the end-to-end suites against programs
# built with gcov counters in build-coverage/, then the line and branch
# coverage of lib/ and cgi-bin/ and a check against tests/coverage-floor.
# COVERAGE_WEB="lighttpd" runs the end-to-end suite behind one server only.
coverage:
	@$(MAKE) --no-print-directory COVERAGE=1 BUILD=build-coverage all
	@BUILD=build-coverage COVERAGE=1 COVERAGE_WEB="$(COVERAGE_WEB)" \
	    scripts/check.sh coverage

# The bare FastCGI program make bench measures /health against (and, with
# a database connection, the ceilings of /api/v1/auth/me and of reveal):
# built for the benchmark only, never installed.
$(BUILD)/bench/hello: bench/hello.c
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lfcgi -lpq

# The MQTT load generator of bench/mqtt.sh (libmosquitto), bench only too.
$(BUILD)/bench/mqtt-bench: bench/mqtt.c
	@mkdir -p $(@D)
	@echo "LD $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lmosquitto -lpthread

bench: all
	@$(MAKE) --no-print-directory $(BUILD)/bench/hello $(BUILD)/bench/mqtt-bench
	@BUILD=$(BUILD) bench/run.sh

# make superadmin EMAIL=you@example.com [PASSWORD=...]: creates or resets a
# platform superadmin; without PASSWORD one is generated and printed once.
# make exports command-line variables, so the values reach the script
# through the environment, never through the recipe's shell quoting.
superadmin: all
	@BUILD=$(BUILD) scripts/stack.sh superadmin "$${EMAIL-}" "$${PASSWORD-}"

# make vault-rotate [JOB=1] [BATCH=N]: wraps every data key again with the
# current VAULT_MASTER_KEY (README, Vault keys); JOB=1 queues it for
# homebot-worker instead.
vault-rotate: all
	@BUILD=$(BUILD) scripts/stack.sh vault-rotate "$${JOB-}" "$${BATCH-}"

# make backup [FILE=...]: a pg_dump of make run's database (or the external
# one), by default backups/homebot-<time>.dump. make restore FILE=...
# [FORCE=1]: into a database without a homebot schema, or replacing it
# with FORCE=1. docs/backup.md.
backup:
	@scripts/backup.sh backup "$(FILE)"

restore:
	@FORCE="$(FORCE)" scripts/backup.sh restore "$(FILE)"

# make install [PREFIX=/opt/homebot] [SYSCONFDIR=/etc/homebot] [RUNTIME=homebot]
install: all
	scripts/install.sh "$(BUILD)" "$(PREFIX)" "$(SYSCONFDIR)" "$(RUNTIME)"

clean:
	rm -rf build build-asan build-fuzz build-coverage
