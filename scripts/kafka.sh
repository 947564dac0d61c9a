#!/usr/bin/env bash
# kafka.sh fetches Apache Kafka's jars from Maven Central and runs a
# single-node KRaft broker on 127.0.0.1 for lagscaler's integration tests.
#
# Usage:
#   kafka.sh fetch                       download the jars once into the cache
#   kafka.sh start DIR PORT [CTRL_PORT]  format DIR (first time) and start
#   kafka.sh stop DIR                    SIGTERM, then SIGKILL after a bound
#   kafka.sh kill DIR                    SIGKILL at once (crash test)
#   kafka.sh consumer-groups ARGS...     Kafka's kafka-consumer-groups tool
#   kafka.sh topics ARGS...              Kafka's kafka-topics tool
#   kafka.sh classpath                   print the classpath of the jars
#
# Environment:
#   LAGSCALER_CACHE                cache root (default ~/.cache/lagscaler)
#   LAGSCALER_KAFKA_VERSION        Kafka version (default 4.1.1, Java 17+)
#   LAGSCALER_KAFKA_START_TIMEOUT  seconds to wait for the port (default 90)
#   LAGSCALER_KAFKA_STOP_TIMEOUT   seconds from SIGTERM to SIGKILL (default 30)
#   LAGSCALER_KAFKA_OWNER_PID      when set, start also runs a watcher that
#                                  stops the broker once that process exits,
#                                  so a test run that dies leaves no JVM behind
#   JAVA                           java binary (default $JAVA_HOME/bin/java,
#                                  then java on PATH)
#
# The broker listens on PLAINTEXT://127.0.0.1:PORT and its controller on
# 127.0.0.1:CTRL_PORT (default PORT+1). Data, logs and the pid file live in
# DIR, so a later start on the same DIR reuses the data.
set -euo pipefail

readonly KAFKA_VERSION="${LAGSCALER_KAFKA_VERSION:-4.1.1}"
readonly CACHE_ROOT="${LAGSCALER_CACHE:-$HOME/.cache/lagscaler}"
readonly KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
readonly LIBS="$KAFKA_HOME/libs"
readonly FETCHED_MARKER="$KAFKA_HOME/.fetched"
# The log4j2 version matches the log4j-core that kafka-server 4.1.1 pulls
# in, and log4j-slf4j-impl binds the slf4j 1.7 API that Kafka 4.1.1 logs to.
# NOTE: another LAGSCALER_KAFKA_VERSION may need other logging jars.
readonly LOG4J_VERSION="2.24.3"
readonly START_TIMEOUT="${LAGSCALER_KAFKA_START_TIMEOUT:-90}"
readonly STOP_TIMEOUT="${LAGSCALER_KAFKA_STOP_TIMEOUT:-30}"

die() {
	echo "kafka.sh: $*" >&2
	exit 1
}

# The timeouts and ports go into bash arithmetic, which would evaluate any
# other text as an expression, so they must be plain numbers.
is_number() {
	[[ "$1" =~ ^[0-9]+$ ]]
}
is_number "$START_TIMEOUT" ||
	die "invalid LAGSCALER_KAFKA_START_TIMEOUT '$START_TIMEOUT': use whole seconds, such as 90"
is_number "$STOP_TIMEOUT" ||
	die "invalid LAGSCALER_KAFKA_STOP_TIMEOUT '$STOP_TIMEOUT': use whole seconds, such as 30"

usage() {
	sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

java_bin() {
	if [[ -n "${JAVA:-}" ]]; then
		[[ -x "$JAVA" ]] || die "JAVA=$JAVA is not an executable file"
		echo "$JAVA"
	elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		echo "$JAVA_HOME/bin/java"
	elif command -v java >/dev/null; then
		command -v java
	else
		die "java not found: install a JDK 17 or newer, or set JAVA_HOME"
	fi
}

require_fetched() {
	[[ -f "$FETCHED_MARKER" ]] ||
		die "Kafka $KAFKA_VERSION jars missing in $LIBS: run '$0 fetch' first"
}

# write_pom prints a throwaway pom whose runtime dependencies are the broker,
# the command-line tools and a log4j2 backend for slf4j.
write_pom() {
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.lagscaler</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

# write_log_configs writes two log4j2 configurations. The broker logs to
# ${kafka.logs.dir}/server.log, and the tools print only warnings, to stderr.
write_log_configs() {
	local config_dir="$1"
	mkdir -p "$config_dir"
	cat >"$config_dir/broker-log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
EOF
	cat >"$config_dir/tools-log4j2.properties" <<'EOF'
status = warn
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = stderr
EOF
}

cmd_fetch() {
	if [[ -f "$FETCHED_MARKER" ]]; then
		echo "Kafka $KAFKA_VERSION already fetched in $LIBS" >&2
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found: install Maven to fetch the Kafka jars"

	local build_dir="$KAFKA_HOME/build"
	rm -rf "$build_dir" "$LIBS.partial"
	mkdir -p "$build_dir"
	write_pom >"$build_dir/pom.xml"

	echo "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS" >&2
	# copy-dependencies fills a scratch folder that is renamed only after
	# success, so an interrupted fetch never looks complete.
	if ! mvn -B -q -f "$build_dir/pom.xml" dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$LIBS.partial" \
		>"$build_dir/mvn.log" 2>&1; then
		tail -n 30 "$build_dir/mvn.log" >&2
		die "mvn failed to fetch Kafka $KAFKA_VERSION (full log: $build_dir/mvn.log)"
	fi

	rm -rf "$LIBS"
	mv "$LIBS.partial" "$LIBS"
	write_log_configs "$KAFKA_HOME/config"
	touch "$FETCHED_MARKER"
	echo "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars into $LIBS" >&2
}

# broker_pid prints the pid stored in DIR/kafka.pid when that process is
# still a Kafka broker started on DIR, so a reused pid is never signalled.
broker_pid() {
	local dir="$1" pid
	[[ -f "$dir/kafka.pid" ]] || return 1
	pid="$(<"$dir/kafka.pid")"
	is_number "$pid" || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	# cmdline contains the arguments separated by NUL bytes. A broker
	# started on DIR has DIR/server.properties as one of them.
	grep -qzxF -- "$dir/server.properties" "/proc/$pid/cmdline" || return 1
	echo "$pid"
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

write_server_properties() {
	local dir="$1" port="$2" controller_port="$3"
	cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a SIGKILL the controller rejects the restarted broker's registration
# until the old session expires, so a short session speeds up the restart.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.flush.interval.messages=1
EOF
}

# format_storage formats DIR/data unless it is formatted already, so a
# restart reuses the data.
format_storage() {
	local dir="$1" java="$2"
	[[ -f "$dir/data/meta.properties" ]] && return 0

	# A cluster id is 16 random bytes in URL-safe base64 without padding.
	local cluster_id
	cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
	if ! "$java" -Xmx256m -cp "$LIBS/*" \
		-Dlog4j2.configurationFile="$KAFKA_HOME/config/tools-log4j2.properties" \
		kafka.tools.StorageTool format --ignore-formatted \
		-t "$cluster_id" -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1; then
		cat "$dir/logs/format.log" >&2
		die "formatting $dir/data failed"
	fi
}

cmd_start() {
	[[ $# -ge 2 && $# -le 3 ]] || usage
	require_fetched
	local dir port controller_port java pid
	port="$2"
	is_number "$port" || die "invalid port '$port'"
	controller_port="${3:-$((port + 1))}"
	is_number "$controller_port" || die "invalid controller port '$controller_port'"
	dir="$(mkdir -p "$1" && cd "$1" && pwd)"
	java="$(java_bin)"

	if pid="$(broker_pid "$dir")"; then
		die "a broker on $dir is already running as pid $pid"
	fi
	if port_open "$port"; then
		die "port 127.0.0.1:$port is already in use"
	fi

	mkdir -p "$dir/logs"
	write_server_properties "$dir" "$port" "$controller_port"
	format_storage "$dir" "$java"

	# stdin, stdout and stderr are detached from the caller so that a caller
	# reading this script's output through a pipe is not held open by the JVM.
	nohup "$java" -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-Djava.awt.headless=true \
		-Dkafka.logs.dir="$dir/logs" \
		-Dlog4j2.configurationFile="$KAFKA_HOME/config/broker-log4j2.properties" \
		-cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
		</dev/null >>"$dir/logs/stdout.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/kafka.pid"
	if [[ -n "${LAGSCALER_KAFKA_OWNER_PID:-}" ]]; then
		watch_owner "$LAGSCALER_KAFKA_OWNER_PID" "$pid" "$dir" </dev/null >/dev/null 2>&1 &
	fi

	local deadline=$((SECONDS + START_TIMEOUT))
	until port_open "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			show_log_tail "$dir"
			die "broker exited during startup (logs in $dir/logs)"
		fi
		if ((SECONDS >= deadline)); then
			kill -KILL "$pid" 2>/dev/null || true
			show_log_tail "$dir"
			die "broker did not accept connections on 127.0.0.1:$port within ${START_TIMEOUT}s"
		fi
		sleep 0.3
	done
	echo "broker pid $pid listening on 127.0.0.1:$port (controller 127.0.0.1:$controller_port, dir $dir)" >&2
}

# watch_owner stops broker PID once the OWNER process exits. It returns
# without signalling when the broker is stopped, killed or replaced first.
watch_owner() {
	local owner="$1" pid="$2" dir="$3"
	while kill -0 "$owner" 2>/dev/null; do
		[[ "$(broker_pid "$dir" || true)" == "$pid" ]] || return 0
		sleep 2
	done
	[[ "$(broker_pid "$dir" || true)" == "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid" "$STOP_TIMEOUT" || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/kafka.pid"
}

show_log_tail() {
	local dir="$1" file
	for file in "$dir/logs/stdout.log" "$dir/logs/server.log"; do
		[[ -s "$file" ]] || continue
		echo "--- last lines of $file" >&2
		tail -n 40 "$file" >&2
	done
}

wait_gone() {
	local pid="$1" timeout="$2"
	local deadline=$((SECONDS + timeout))
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

cmd_stop() {
	[[ $# -eq 1 ]] || usage
	local dir pid
	dir="$(cd "$1" && pwd)"
	if ! pid="$(broker_pid "$dir")"; then
		echo "no broker running on $dir" >&2
		rm -f "$dir/kafka.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
		echo "broker pid $pid still running after ${STOP_TIMEOUT}s: sending SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" 10 || die "broker pid $pid survived SIGKILL"
	fi
	rm -f "$dir/kafka.pid"
	echo "broker pid $pid stopped" >&2
}

cmd_kill() {
	[[ $# -eq 1 ]] || usage
	local dir pid
	dir="$(cd "$1" && pwd)"
	pid="$(broker_pid "$dir")" || die "no broker running on $dir"
	kill -KILL "$pid"
	wait_gone "$pid" 10 || die "broker pid $pid survived SIGKILL"
	rm -f "$dir/kafka.pid"
	echo "broker pid $pid killed" >&2
}

# run_tool runs one of Kafka's command-line tools from the fetched jars. The
# flags keep a short-lived JVM cheap on a small machine.
run_tool() {
	local main_class="$1" java
	shift
	require_fetched
	# java_bin fails with a message when no java is found. set -e stops the
	# script on a failed assignment, but not on a failed substitution inside
	# exec's arguments.
	java="$(java_bin)"
	exec "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dlog4j2.configurationFile="$KAFKA_HOME/config/tools-log4j2.properties" \
		-cp "$LIBS/*" "$main_class" "$@"
}

main() {
	[[ $# -ge 1 ]] || usage
	local command="$1"
	shift
	case "$command" in
	fetch) cmd_fetch "$@" ;;
	start) cmd_start "$@" ;;
	stop) cmd_stop "$@" ;;
	kill) cmd_kill "$@" ;;
	consumer-groups) run_tool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@" ;;
	topics) run_tool org.apache.kafka.tools.TopicCommand "$@" ;;
	classpath)
		require_fetched
		echo "$LIBS/*"
		;;
	*) usage ;;
	esac
}

main "$@"
