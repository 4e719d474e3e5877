// Runs s3rver in its own process, started by s3rver.ts as
//   node --openssl-legacy-provider s3rver-process.mjs <directory>
// s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which Node 17+ only offers with the
// legacy OpenSSL provider; without it, listing past 1,000 keys fails. A child process keeps that flag
// out of the test workers. Prints {"port": N} on stdout once listening; exits on SIGTERM or when the
// parent closes stdin (so a crashed test run leaves no server behind).
import S3rver from "s3rver";

const directory = process.argv[2];
if (!directory) {
  process.stderr.write("usage: s3rver-process.mjs <directory>\n");
  process.exit(2);
}

const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

// Exiting is enough: the parent deletes the directory, and waiting for clients' keep-alive sockets to
// close (what server.close() does) could take as long as their idle timeout.
const exit = () => process.exit(0);
process.on("SIGTERM", exit);
process.on("SIGINT", exit);
process.stdin.on("close", exit);
process.stdin.resume();
