-- Who changed a meter, kept by a trigger.
CREATE TABLE meter_audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL DEFAULT current_user,
    old_row jsonb
);

CREATE FUNCTION meter_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO meter_audit (meter_id, old_row) VALUES (OLD.id, to_jsonb(OLD));
    RETURN NEW;
END
$$;

CREATE TRIGGER meters_audit AFTER UPDATE OR DELETE ON meters
    FOR EACH ROW EXECUTE FUNCTION meter_audit_row();
