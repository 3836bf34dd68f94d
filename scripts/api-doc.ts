/**
 * The public API listing of docs/api.md, read from the code: every name exported by the two entry
 * points (`kvcache-lab` = lib/src/index.ts, `kvcache-lab/notebook` = lib/src/notebook/index.ts),
 * grouped by the layer comments of the entry file, with its kind and the first sentence of its doc
 * comment. `npm run docs` writes it; `npm test` (docs:check) fails when the code and the page differ.
 */
import * as path from 'node:path';
import ts from 'typescript';

interface Entry {
  name: string;
  kind: string;
  summary: string;
}

interface Section {
  title: string;
  entries: Entry[];
}

function kindOf(decl: ts.Declaration | undefined): string {
  if (!decl) return '';
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isVariableDeclaration(decl)) return 'const';
  return ts.SyntaxKind[decl.kind] ?? '';
}

/** The first sentence of a doc comment, on one line, with `{@link X}` reduced to `X`. */
function firstSentence(text: string): string {
  const flat = text.replace(/\{@link\s+([^}|\s]+)[^}]*\}/g, '$1').replace(/\s+/g, ' ').trim();
  const m = /^(.*?[.!?])(\s|$)/.exec(flat);
  return (m ? m[1]! : flat).replace(/\|/g, '\\|');
}

/** Exports of `entry`, in source order, grouped by `// ── title ───` comments (one group if there are none). */
export function apiSections(root: string, entry: string): Section[] {
  const file = path.join(root, entry);
  const program = ts.createProgram([file], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, strict: true, skipLibCheck: true, noEmit: true, types: ['node'] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${entry}`);
  const text = source.getFullText();
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const stmt of source.statements) {
    for (const c of ts.getLeadingCommentRanges(text, stmt.getFullStart()) ?? []) {
      const m = /^\/\/\s*──\s*(.+?)\s*─*\s*$/.exec(text.slice(c.pos, c.end));
      if (m) sections.push((current = { title: m[1]!, entries: [] }));
    }
    if (!ts.isExportDeclaration(stmt)) continue;
    if (!current) sections.push((current = { title: 'exports', entries: [] }));
    const targets: ts.Symbol[] = [];
    if (stmt.exportClause && ts.isNamedExports(stmt.exportClause)) {
      for (const el of stmt.exportClause.elements) {
        const sym = checker.getSymbolAtLocation(el.name);
        if (sym) targets.push(sym);
      }
    } else if (stmt.moduleSpecifier) {
      // `export * from './x'`: every export of that module.
      const mod = checker.getSymbolAtLocation(stmt.moduleSpecifier);
      if (mod) targets.push(...checker.getExportsOfModule(mod));
    }
    for (const sym of targets) {
      const real = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
      const decl = real.declarations?.[0];
      current.entries.push({ name: sym.getName(), kind: kindOf(decl), summary: firstSentence(ts.displayPartsToString(real.getDocumentationComment(checker))) });
    }
  }
  return sections;
}

function render(title: string, importLine: string, sections: Section[]): string {
  const out = [`## \`${title}\``, '', '```ts', importLine, '```', ''];
  for (const s of sections) {
    out.push(`### ${s.title}`, '', '| name | kind | summary |', '|---|---|---|');
    for (const e of s.entries) out.push(`| \`${e.name}\` | ${e.kind} | ${e.summary || '–'} |`);
    out.push('');
  }
  return out.join('\n');
}

/** The generated block of docs/api.md. */
export function apiMarkdown(root: string): string {
  const core = apiSections(root, 'lib/src/index.ts');
  const notebook = apiSections(root, 'lib/src/notebook/index.ts');
  const count = (ss: Section[]): number => ss.reduce((n, s) => n + s.entries.length, 0);
  return [
    `${count(core)} names in the core, ${count(notebook)} in the notebook entry point.`,
    '',
    render('kvcache-lab', 'import * as kv from "kvcache-lab";', core),
    render('kvcache-lab/notebook', 'import * as nb from "kvcache-lab/notebook";', notebook),
  ].join('\n');
}
