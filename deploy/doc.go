// Package deploy holds no code: it is the home of the deployment files and of the tests that keep them honest.
//
//   - compose/<node>.yaml: the node configurations docker-compose.yml (at the repository root) mounts, and
//     compose/postgres-init.sh, which creates one PostgreSQL role and database per storing node;
//   - hosts/<node>.yaml: one node per host on PostgreSQL, with example addresses from 192.0.2.0/24.
//
// The tests decode every YAML file here with the node's own strict loader (internal/config: unknown keys are
// errors) and validate it, check that the files of one deployment agree with each other (addresses, names,
// ports) and with docker-compose.yml, and run `docker-compose config -q` on the compose file.
package deploy
