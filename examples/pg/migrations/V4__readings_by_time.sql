-- eqops:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS readings_at ON readings (at);
