/**
 * Which pages the book has, in reading order, and where each source file lands in the site. The site
 * mirrors the repository's folders (notebooks/X.ipynb → notebooks/X.html, docs/X.md → docs/X.html), so
 * that a link written for GitHub (`../docs/glossary.md#prefix-caching`) maps by changing its suffix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type PageKind = 'guide' | 'notebook' | 'doc';

export interface PageSource {
  kind: PageKind;
  /** Path of the source in the repository, with `/`. */
  source: string;
  /** Path of the page in the site, with `/`. */
  site: string;
  /** The part of the book it belongs to (the table of contents groups by it). */
  part: string;
}

export const PARTS = ['Start here', 'Notebooks', 'The written course', 'Reference'] as const;

// Reference material after the numbered chapters of the written course, in this order; any doc not
// named here comes after them, alphabetically.
const REFERENCE_ORDER = ['glossary', 'format', 'api', 'soak', 'notebook-authoring'];

function docOrder(name: string): [number, string] {
  if (/^\d/.test(name)) return [0, name];
  const i = REFERENCE_ORDER.indexOf(name);
  return [i === -1 ? REFERENCE_ORDER.length + 1 : i + 1, name];
}

/** The book's pages in reading order: README and GETTING_STARTED, the notebooks, the docs. */
export function listPages(root: string): PageSource[] {
  const pages: PageSource[] = [
    { kind: 'guide', source: 'README.md', site: 'about.html', part: 'Start here' },
    { kind: 'guide', source: 'GETTING_STARTED.md', site: 'getting-started.html', part: 'Start here' },
  ];
  for (const f of fs.readdirSync(path.join(root, 'notebooks')).filter((f) => f.endsWith('.ipynb')).sort()) {
    pages.push({ kind: 'notebook', source: `notebooks/${f}`, site: `notebooks/${f.replace(/\.ipynb$/, '.html')}`, part: 'Notebooks' });
  }
  const docs = fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => f.replace(/\.md$/, ''));
  docs.sort((a, b) => {
    const [ra, na] = docOrder(a);
    const [rb, nb] = docOrder(b);
    return ra - rb || na.localeCompare(nb);
  });
  for (const name of docs) {
    pages.push({ kind: 'doc', source: `docs/${name}.md`, site: `docs/${name}.html`, part: /^\d/.test(name) ? 'The written course' : 'Reference' });
  }
  return pages;
}

/** Folders the sources link to as a whole, shown as their part of the table of contents. */
export const FOLDER_TARGETS: Record<string, string> = { docs: 'index.html#the-written-course', notebooks: 'index.html#notebooks' };

export const IMAGE_FILE = /\.(png|jpe?g|gif|svg|webp)$/i;
