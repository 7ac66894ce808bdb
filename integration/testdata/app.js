// A tiny tenant for tenement's integration tests: Node's standard library
// only. It listens on 127.0.0.1:$PORT; / answers who it is and writes a
// file into $DATA_DIR, /health answers ok.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

http.createServer((req, res) => {
  if (req.url === '/health') {
    res.end('ok\n');
    return;
  }
  const file = path.join(process.env.DATA_DIR, 'node.txt');
  fs.writeFileSync(file, 'written by node\n');
  res.end(`hello from node uid=${process.getuid()} pid=${process.pid} wrote=${file}\n`);
}).listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('node app starting');
});
