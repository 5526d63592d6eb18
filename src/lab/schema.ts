/** Schema of deployed labs (migration v5). Owned by the lab subsystem; append-only once shipped. */
export const LABS_SCHEMA = `
CREATE TABLE labs (
  name TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,                -- absolute path of the manifest as deployed
  plan TEXT NOT NULL,                    -- JSON LabPlan: what destroy and redeploy work from
  state TEXT NOT NULL CHECK (state IN ('deploying', 'running', 'down', 'failed')),
  mgmt_network TEXT,                     -- berth network ID, once created
  created INTEGER NOT NULL,              -- ms
  updated INTEGER NOT NULL
);
`;
