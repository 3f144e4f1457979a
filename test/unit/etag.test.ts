import { etagOf, ifNoneMatchMatches } from '../../src/http/etag';

describe('entity tags', () => {
  const body = Buffer.from('{"id":"task_1","status":"succeeded"}');
  const tag = etagOf(body);

  it('tags the same bytes the same way and different bytes differently, as a strong quoted tag', () => {
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(etagOf(body.toString())).toBe(tag);
    expect(etagOf('{"id":"task_1","status":"failed"}')).not.toBe(tag);
  });

  it('matches If-None-Match by the tag, in a list, weakly, or as *', () => {
    expect(ifNoneMatchMatches(tag, tag)).toBe(true);
    expect(ifNoneMatchMatches(`W/${tag}`, tag)).toBe(true);
    expect(ifNoneMatchMatches(`"other", ${tag}`, tag)).toBe(true);
    expect(ifNoneMatchMatches(` ${tag} ,"other"`, tag)).toBe(true);
    expect(ifNoneMatchMatches('*', tag)).toBe(true);
  });

  it('never matches a missing, different or malformed header', () => {
    const bare = tag.slice(1, -1);
    for (const header of [undefined, '', '"other"', bare, `${tag}x`, `"${tag}"`, `${tag}, garbage`, `w/${tag}`, '**', `${tag.slice(0, -1)}`, ',,']) {
      expect(ifNoneMatchMatches(header, tag)).toBe(false);
    }
  });
});
