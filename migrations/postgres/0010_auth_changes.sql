-- Nodes keep what authentication read (a credential, its participant and
-- allowlist) in memory for a moment (DESIGN §11). Any change to those
-- tables, by whatever writer, tells every node to read them again: the
-- notification goes out when the changing transaction commits.
CREATE FUNCTION gwx_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gwx_changed', 'auth');
    RETURN NULL;
END
$$;

CREATE TRIGGER participants_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION gwx_auth_changed();
CREATE TRIGGER credentials_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION gwx_auth_changed();
CREATE TRIGGER allowlist_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON allowlist
    FOR EACH STATEMENT EXECUTE FUNCTION gwx_auth_changed();
