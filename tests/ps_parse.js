// Parses PowerShell files with tree-sitter-powershell and prints, per file, its syntax tree as JSON
// for tests/test_ps_grammar.py to walk: {"path", "errors": [{line, col, end, kind, text}], "tree": node}.
// A node is {t: type, n: named?, l: line, c: column, x: text (leaves only), f: field, k: [children]}.
// Chains of wrapper nodes that cover exactly the same text as their only child (the grammar's
// logical_expression > bitwise_expression > ... ladder) are collapsed into that child, except a command.
// Usage: node tests/ps_parse.js FILE... (a file "-" reads standard input).
import fs from 'node:fs';
import Parser from 'tree-sitter';
import PowerShell from 'tree-sitter-powershell/bindings/node/index.js';

const parser = new Parser();
parser.setLanguage(PowerShell);

// Kept even around a single child: a command is judged as a whole (its name and parameters).
const KEPT = new Set(['ERROR', 'command']);

function node(n, field) {
  const kids = n.children;
  if (kids.length === 1 && kids[0].startIndex === n.startIndex && kids[0].endIndex === n.endIndex
      && !KEPT.has(n.type)) {
    return node(kids[0], field);
  }
  const out = { t: n.type, n: n.isNamed, l: n.startPosition.row + 1, c: n.startPosition.column + 1 };
  if (field) out.f = field;
  if (kids.length === 0) out.x = n.text;
  else out.k = kids.map((kid, i) => node(kid, n.fieldNameForChild(i)));
  return out;
}

function errors(root) {
  const found = [];
  const walk = (n) => {
    const inner = n.children.some((kid) => kid.hasError || kid.isMissing);
    if (n.isMissing || (n.type === 'ERROR' && !inner)) {  // the innermost: where the parse went wrong
      found.push({ line: n.startPosition.row + 1, col: n.startPosition.column + 1, end: n.endPosition.row + 1,
                   kind: n.isMissing ? 'MISSING' : 'ERROR', text: n.text.slice(0, 80) });
    }
    if (inner) n.children.forEach(walk);
  };
  walk(root);
  return found;
}

const results = process.argv.slice(2).map((path) => {
  const source = fs.readFileSync(path === '-' ? 0 : path, 'utf8');
  const tree = parser.parse(source, null, { bufferSize: Math.max(32 * 1024, source.length * 4) });
  return { path, errors: errors(tree.rootNode), tree: node(tree.rootNode, null) };
});
process.stdout.write(JSON.stringify(results));
