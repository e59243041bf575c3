"""clickhouse-elt: the project's thin command line and shared configuration."""
