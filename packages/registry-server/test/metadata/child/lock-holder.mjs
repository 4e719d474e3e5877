// Child process that takes the database's write lock (BEGIN IMMEDIATE), says "locked", holds it for
// a while, writes a marker row and commits: a writer in the parent must wait for it, not fail.
// Run with: node lock-holder.mjs FILE HOLD_MS
import Database from "better-sqlite3";

const [file, holdText] = process.argv.slice(2);
const db = new Database(file);
db.exec("BEGIN IMMEDIATE");
process.send("locked");
setTimeout(() => {
  db.prepare("INSERT INTO namespaces (name) VALUES ('lock-holder')").run();
  db.exec("COMMIT");
  db.close();
  process.send("released", () => process.exit(0));
}, Number(holdText));
