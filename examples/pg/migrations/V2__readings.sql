-- Interval readings, and a daily roll-up view.
CREATE TABLE readings (
    meter_id bigint NOT NULL REFERENCES meters (id) ON DELETE CASCADE,
    at timestamptz NOT NULL,
    kwh numeric(12, 3) NOT NULL CHECK (kwh >= 0),
    PRIMARY KEY (meter_id, at)
);

CREATE VIEW daily_energy AS
SELECT m.site_id, date_trunc('day', r.at) AS day, m.kind, sum(r.kwh) AS kwh
FROM readings r JOIN meters m ON m.id = r.meter_id
GROUP BY 1, 2, 3;
