// Drops a component's top-level `component-name` and `producers` custom sections (debug names
// and tool versions: nothing a host runs) in place. Usage: node strip-component-names.mjs FILE
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
const bytes = readFileSync(file);
const leb = (at) => {
  let value = 0, shift = 0, i = at;
  for (;;) {
    const b = bytes[i++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, i];
  }
};
const kept = [bytes.subarray(0, 8)];
let dropped = 0;
for (let i = 8; i < bytes.length; ) {
  const start = i;
  const id = bytes[i++];
  const [size, body] = leb(i);
  i = body + size;
  if (id === 0) {
    const [length, name] = leb(body);
    const label = bytes.subarray(name, name + length).toString("utf8");
    if (label === "component-name" || label === "producers") {
      dropped += i - start;
      continue;
    }
  }
  kept.push(bytes.subarray(start, i));
}
writeFileSync(file, Buffer.concat(kept));
console.log(`stripped ${dropped} bytes of names from ${file}`);
