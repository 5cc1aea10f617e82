-- Smart meters installed at the client's sites.
CREATE TABLE sites (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    region text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE meter_kind AS ENUM ('solar', 'wind', 'battery', 'grid');

CREATE TABLE meters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id bigint NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    serial text NOT NULL UNIQUE,
    kind meter_kind NOT NULL,
    capacity_kw numeric(10, 3) NOT NULL CHECK (capacity_kw > 0),
    installed_on date
);

CREATE INDEX meters_site ON meters (site_id);
