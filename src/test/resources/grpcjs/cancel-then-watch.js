// Issue 14, item 13, with the real client (grpc-js): per try, one channel (one connection):
// ReportStatus, one report, read the ack, cancel; then WatchAssignments on the same channel.
// Prints one line per try: "try N ok" or "try N dropped <ms after cancel> <details>".
// Usage: node cancel-then-watch.js <port> <dir with ca.pem cert.pem key.pem> <protoDir> <nodeId> <tries>
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const fs = require('fs');
const path = require('path');
const [port, dir, protoDir, nodeId, tries] = process.argv.slice(2);
const def = loader.loadSync(path.join(protoDir, 'zlayer/cluster/v1/cluster.proto'),
  { includeDirs: [protoDir], longs: String, keepCase: true, defaults: true });
const pkg = grpc.loadPackageDefinition(def).zlayer.cluster.v1;
const creds = grpc.credentials.createSsl(fs.readFileSync(path.join(dir, 'ca.pem')),
  fs.readFileSync(path.join(dir, 'key.pem')), fs.readFileSync(path.join(dir, 'cert.pem')),
  { checkServerIdentity: () => undefined });

function once(i) {
  return new Promise((resolve) => {
    const client = new pkg.ClusterControlPlane('127.0.0.1:' + port, creds, { 'grpc.use_local_subchannel_pool': 1 });
    let cancelledAt = 0;
    let done = false;
    const finish = (line) => { if (!done) { done = true; client.close(); resolve(line); } };
    const status = client.ReportStatus();
    status.on('error', () => {});
    status.on('data', () => {
      if (cancelledAt) return;
      cancelledAt = Date.now();
      status.cancel();
      const watch = client.WatchAssignments({ node_id: nodeId, last_seen_revision: 0 });
      watch.on('data', () => {});
      watch.on('error', (e) => finish('try ' + i + ' dropped ' + (Date.now() - cancelledAt) + ' ms after cancel: ' + e.code + ' ' + e.details));
      setTimeout(() => finish('try ' + i + ' ok'), 500);
    });
    status.write({ node_id: nodeId, full_snapshot: true });
    setTimeout(() => finish('try ' + i + ' no-ack'), 10000);
  });
}

(async () => {
  for (let i = 1; i <= Number(tries); i++) {
    console.log(await once(i));
  }
  process.exit(0);
})();
