/** RFC 6901 JSON pointers: how findings name a place in a file, whatever its format. */

export type Path = readonly (string | number)[];

const escape = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** `['mcpServers', 'a/b', 'args', 2]` -> `/mcpServers/a~1b/args/2`; the empty path is the whole document (''). */
export const toPointer = (path: Path): string => path.map((p) => '/' + escape(String(p))).join('');

/** `/mcpServers/a~1b` -> `['mcpServers', 'a/b']`. */
export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}
