{{- define "filemesh.pgbouncerIni" -}}
{{- $p := .Values.pgbouncer -}}
{{- $db := .Values.database -}}
[databases]
{{ $db.name }} = host={{ $db.primary.host }} port={{ $db.primary.port }} dbname={{ $db.name }}
{{ $db.name }}_session = host={{ $db.primary.host }} port={{ $db.primary.port }} dbname={{ $db.name }} pool_mode=session
{{- if $db.replica.host }}
{{ $db.name }}_ro = host={{ $db.replica.host }} port={{ $db.replica.port }} dbname={{ $db.name }}
{{- end }}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = {{ $p.port }}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/userlist/userlist.txt
pool_mode = transaction
max_client_conn = {{ $p.maxClientConn }}
default_pool_size = {{ $p.defaultPoolSize }}
reserve_pool_size = {{ $p.reservePoolSize }}
reserve_pool_timeout = 3
; Protocol-level prepared statements survive transaction pooling (PgBouncer >= 1.21).
max_prepared_statements = 200
server_reset_query = DISCARD ALL
server_check_query = SELECT 1
server_lifetime = 3600
server_idle_timeout = 600
query_wait_timeout = 30
tcp_keepalive = 1
server_tls_sslmode = prefer
ignore_startup_parameters = extra_float_digits,options
log_connections = 0
log_disconnections = 0
stats_period = 60
{{- end -}}
