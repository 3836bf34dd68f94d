/**
 * Links in the sources, as written for GitHub, mapped onto the site: pages to pages, images to copies,
 * other files of the repository to the repository on GitHub when its address is known (else the link
 * is dropped and its text kept). Every link to a page or anchor is recorded and checked once all
 * pages are rendered: a link that leads nowhere fails the build.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FOLDER_TARGETS, IMAGE_FILE, type PageSource } from './pages';

export interface InternalLink {
  from: string;
  href: string;
  /** Site path of the target page, and the anchor in it. */
  page: string;
  anchor?: string;
}

export class SiteLinks {
  readonly internal: InternalLink[] = [];
  readonly missing: { from: string; href: string }[] = [];
  /** Repository paths of images to copy into the site (same relative path). */
  readonly assets = new Set<string>();
  private readonly bySource: Map<string, PageSource>;

  constructor(private readonly root: string, pages: readonly PageSource[], private readonly repoBlobUrl?: string) {
    this.bySource = new Map(pages.map((p) => [p.source, p]));
  }

  /** A resolver for links in `page`'s source. */
  resolverFor(page: PageSource): (href: string) => string | undefined {
    return (href) => this.resolve(page, href);
  }

  private resolve(page: PageSource, href: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) return href;
    const hashAt = href.indexOf('#');
    const file = hashAt === -1 ? href : href.slice(0, hashAt);
    const anchor = hashAt === -1 ? undefined : decodeURIComponent(href.slice(hashAt + 1));
    const here = path.posix.dirname(page.site);
    if (file === '') {
      this.internal.push({ from: page.site, href, page: page.site, anchor });
      return href;
    }
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(page.source), decodeURI(file))).replace(/\/$/, '');
    const suffix = anchor === undefined ? '' : `#${encodeURIComponent(anchor)}`;
    const linked = this.bySource.get(target);
    if (linked) {
      this.internal.push({ from: page.site, href, page: linked.site, anchor });
      return path.posix.relative(here, linked.site) + suffix;
    }
    if (FOLDER_TARGETS[target]) {
      const [p, a] = FOLDER_TARGETS[target].split('#');
      this.internal.push({ from: page.site, href, page: p!, anchor: a });
      return path.posix.relative(here, p!) + `#${a}`;
    }
    const onDisk = path.join(this.root, ...target.split('/'));
    if (!target.startsWith('..') && fs.existsSync(onDisk)) {
      if (IMAGE_FILE.test(target)) {
        this.assets.add(target);
        return path.posix.relative(here, target);
      }
      return this.repoBlobUrl ? `${this.repoBlobUrl}/${target}${suffix}` : undefined;
    }
    this.missing.push({ from: page.site, href });
    return href;
  }

  /** Links whose page is not in the site or whose anchor is not on that page. */
  broken(idsByPage: ReadonlyMap<string, ReadonlySet<string>>): { from: string; href: string; why: string }[] {
    const out = this.missing.map((m) => ({ ...m, why: 'no such file in the repository' }));
    for (const l of this.internal) {
      const ids = idsByPage.get(l.page);
      if (!ids) out.push({ from: l.from, href: l.href, why: `${l.page} is not a page of the book` });
      else if (l.anchor !== undefined && l.anchor !== '' && !ids.has(l.anchor)) out.push({ from: l.from, href: l.href, why: `no heading #${l.anchor} in ${l.page}` });
    }
    return out;
  }
}

/**
 * Where files of the repository can be read on GitHub: from --repo-url, else from GitHub Actions'
 * variables (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA). undefined when neither is known.
 */
export function repoBlobUrl(repoUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (repoUrl) return `${repoUrl.replace(/\/$/, '').replace(/\.git$/, '')}/blob/${env.GITHUB_SHA ?? 'HEAD'}`;
  if (env.GITHUB_REPOSITORY) return `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/blob/${env.GITHUB_SHA ?? 'HEAD'}`;
  return undefined;
}
