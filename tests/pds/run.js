// A throwaway AT Protocol PDS (@atproto/pds) on 127.0.0.1, for herald's
// tests: data in a temporary folder, a minimal PLC directory served here
// (the PDS registers its accounts' DIDs there; plc.directory is never
// called), one account. Prints "READY <port> <handle> <password> <did>"
// on stdout once it answers, then runs until killed.
//
// Usage: node run.js <data dir>

const http = require('node:http')
const crypto = require('node:crypto')
const path = require('node:path')
const { Secp256k1Keypair } = require('@atproto/crypto')
const plc = require('@did-plc/lib')
const pds = require('@atproto/pds')

const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)))

// The PLC directory: every operation posted for a DID is kept; a DID's
// document is made from its last operation.
async function plcDirectory() {
  const ops = new Map()
  const server = http.createServer((req, res) => {
    const did = decodeURIComponent(req.url.slice(1).split('/')[0])
    if (req.method === 'POST') {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        const list = ops.get(did) ?? []
        list.push(JSON.parse(body))
        ops.set(did, list)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
      return
    }
    const list = ops.get(did)
    if (!list) {
      res.writeHead(404).end('{"message":"DID not registered"}')
      return
    }
    const last = list[list.length - 1]
    const rest = req.url.slice(1 + encodeURIComponent(did).length)
    let answer
    if (rest === '/log') answer = list
    else if (rest === '/log/last') answer = last
    else if (rest === '/data') answer = plc.opToData(did, last)
    else answer = plc.formatDidDoc(plc.opToData(did, last))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
  })
  return listen(server)
}

async function main() {
  const dir = process.argv[2]
  const plcPort = await plcDirectory()
  // A free port for the PDS, which listens on it itself.
  const probe = http.createServer()
  const port = await listen(probe)
  await new Promise((resolve) => probe.close(resolve))
  const rotation = await Secp256k1Keypair.create({ exportable: true })
  const env = {
    port,
    hostname: 'localhost',
    devMode: true,
    dataDirectory: dir,
    blobstoreDiskLocation: path.join(dir, 'blobs'),
    didPlcUrl: `http://127.0.0.1:${plcPort}`,
    serviceHandleDomains: ['.test'],
    inviteRequired: false,
    rateLimitsEnabled: false,
    bskyAppViewUrl: undefined,
    jwtSecret: crypto.randomBytes(32).toString('hex'),
    adminPassword: 'admin-pass',
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotation.export()).toString('hex'),
  }
  const cfg = pds.envToCfg(env)
  const secrets = pds.envToSecrets(env)
  const server = await pds.PDS.create(cfg, secrets)
  await server.start()
  const handle = 'herald.test'
  const password = 'herald-app-password'
  const res = await fetch(`http://127.0.0.1:${port}/xrpc/com.atproto.server.createAccount`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, email: 'herald@example.test', password }),
  })
  const account = await res.json()
  if (!res.ok) throw new Error(`createAccount: ${res.status} ${JSON.stringify(account)}`)
  console.log(`READY ${port} ${handle} ${password} ${account.did}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
