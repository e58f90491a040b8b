// Package deploy holds no code: it is the home of the deployment files and of the tests that keep them honest.
//
//   - compose/<node>.yaml: the node configurations docker-compose.yml (at the repository root) mounts, SQLite
//     stores on volumes; compose/postgres/: the HSS and S-CSCF on PostgreSQL for docker-compose.postgres.yml, and
//     init.sh, which creates one PostgreSQL role and database per storing node;
//   - image/: the files of the FROM scratch image besides the binaries (/etc/passwd, /etc/group, the data
//     directory);
//   - k8s/: Kubernetes manifests for the same topology, k8s/config/<node>.yaml the configurations of their
//     ConfigMaps;
//   - hosts/<node>.yaml: one node per host on PostgreSQL, with example addresses from 192.0.2.0/24.
//
// The tests decode every node configuration here with the node's own strict loader (internal/config: unknown
// keys are errors) and validate it, check that the files of one deployment agree with each other (addresses,
// names, ports) and with docker-compose.yml, run `docker-compose config -q`, decode the Kubernetes manifests
// strictly into the k8s.io/api types and check their references (k8s_test.go), and, with IMSCORE_DOCKER=1, build
// the image and run the compose stack with a call through it and a restart (stack_test.go).
package deploy
