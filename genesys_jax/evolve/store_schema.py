"""The evolution store's schema, as the migrations that build it: version k is what migrations 1..k made.

Opening an older store migrates it step by step; a store from a newer version is refused. The DDL is
SQLite's; postgres_store.py reads it in PostgreSQL's dialect (a table is created before those that
refer to it, as PostgreSQL requires).
"""

SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE designs (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      content_hash TEXT NOT NULL UNIQUE,
      fingerprint TEXT,
      seed INTEGER NOT NULL DEFAULT 0,
      operator TEXT,
      status TEXT NOT NULL,            -- implemented | rejected | duplicate
      duplicate_of INTEGER REFERENCES designs(id),
      tree TEXT NOT NULL,              -- the manifest (root, units, lineage) as JSON
      path TEXT NOT NULL,              -- the design directory, relative to the run directory
      rationale TEXT NOT NULL DEFAULT '',
      changed_units TEXT NOT NULL DEFAULT '[]',
      created REAL NOT NULL
    );
    CREATE TABLE lineage (
      child INTEGER NOT NULL REFERENCES designs(id),
      parent INTEGER NOT NULL REFERENCES designs(id),
      operator TEXT NOT NULL,
      PRIMARY KEY (child, parent)
    );
    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL,              -- design | verify
      key TEXT NOT NULL UNIQUE,        -- what the job does, so it is never queued twice
      payload TEXT NOT NULL,
      state TEXT NOT NULL,             -- pending | leased | done | failed
      owner TEXT,
      lease_expires REAL,
      attempts INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      created REAL NOT NULL,
      finished REAL
    );
    CREATE INDEX jobs_by_state ON jobs (kind, state);
    CREATE TABLE sessions (
      id INTEGER PRIMARY KEY,
      job_id INTEGER UNIQUE REFERENCES jobs(id),
      design_id INTEGER REFERENCES designs(id),
      designer TEXT NOT NULL,
      operator TEXT NOT NULL,
      ok INTEGER NOT NULL,
      reason TEXT NOT NULL,
      cost_usd REAL NOT NULL DEFAULT 0,
      events TEXT NOT NULL DEFAULT '[]',
      seconds REAL NOT NULL,
      created REAL NOT NULL
    );
    CREATE TABLE calls (
      id INTEGER PRIMARY KEY,
      session_id INTEGER NOT NULL REFERENCES sessions(id),
      role TEXT NOT NULL,
      model TEXT NOT NULL,
      ok INTEGER NOT NULL,
      input_tokens INTEGER NOT NULL,
      output_tokens INTEGER NOT NULL,
      cost_usd REAL NOT NULL,
      seconds REAL NOT NULL
    );
    CREATE TABLE checks (
      id INTEGER PRIMARY KEY,
      session_id INTEGER NOT NULL REFERENCES sessions(id),
      design_id INTEGER REFERENCES designs(id),
      ok INTEGER NOT NULL,
      report TEXT NOT NULL,
      seconds REAL NOT NULL
    );
    CREATE TABLE verifications (
      id INTEGER PRIMARY KEY,
      design_id INTEGER NOT NULL REFERENCES designs(id),
      rung TEXT NOT NULL,
      status TEXT NOT NULL,            -- completed | diverged | does_not_fit | error
      results TEXT NOT NULL,           -- what verify() returned (metrics, timings, budget, config)
      run_dir TEXT NOT NULL,           -- checkpoints, history and TensorBoard logs, relative to the run
      seconds REAL NOT NULL,
      created REAL NOT NULL,
      UNIQUE (design_id, rung)
    );
    CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
    """,
    2: """
    CREATE TABLE calls_v2 (
      id INTEGER PRIMARY KEY,
      job_id INTEGER REFERENCES jobs(id),          -- the design job that made the call, recorded at once
      session_id INTEGER REFERENCES sessions(id),  -- set when the job's session is recorded
      role TEXT NOT NULL,
      model TEXT NOT NULL,
      design TEXT,
      ok INTEGER NOT NULL,
      error TEXT,
      input_tokens INTEGER NOT NULL,
      output_tokens INTEGER NOT NULL,
      cost_usd REAL NOT NULL,
      seconds REAL NOT NULL,
      created REAL NOT NULL DEFAULT 0
    );
    INSERT INTO calls_v2 (id, job_id, session_id, role, model, ok, input_tokens, output_tokens, cost_usd, seconds)
      SELECT c.id, s.job_id, c.session_id, c.role, c.model, c.ok, c.input_tokens, c.output_tokens, c.cost_usd,
             c.seconds FROM calls c JOIN sessions s ON s.id = c.session_id;
    DROP TABLE calls;
    ALTER TABLE calls_v2 RENAME TO calls;
    CREATE INDEX calls_by_job ON calls (job_id);
    """,
    3: """
    CREATE TABLE lineage_v3 (
      id INTEGER PRIMARY KEY,                      -- a child's parents in the order they were given
      child INTEGER NOT NULL REFERENCES designs(id),
      parent INTEGER NOT NULL REFERENCES designs(id),
      operator TEXT NOT NULL,
      UNIQUE (child, parent)
    );
    INSERT INTO lineage_v3 (child, parent, operator) SELECT child, parent, operator FROM lineage ORDER BY rowid;
    DROP TABLE lineage;
    ALTER TABLE lineage_v3 RENAME TO lineage;
    """,
}
