import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { itemUrl, pushUrl } from '../../../src/publish/urls.ts';

describe('publish URLs (PackageUpdateResource rules)', () => {
  it('appends a trailing slash for push, once', () => {
    assert.equal(pushUrl('https://www.nuget.org/api/v2/package'), 'https://www.nuget.org/api/v2/package/');
    assert.equal(pushUrl('https://feed.example.com/nuget/v2/'), 'https://feed.example.com/nuget/v2/');
  });
  it('uses /api/v2/package/ for an @id with an empty path', () => {
    assert.equal(pushUrl('https://feed.example.com'), 'https://feed.example.com/api/v2/package/');
    assert.equal(itemUrl('https://feed.example.com/', 'Foo', '1.0'), 'https://feed.example.com/api/v2/package/Foo/1.0');
  });
  it('keeps id and version segments exactly as given', () => {
    assert.equal(itemUrl('https://www.nuget.org/api/v2/package', 'Newtonsoft.JSON', '13.0.3.0'), 'https://www.nuget.org/api/v2/package/Newtonsoft.JSON/13.0.3.0');
    assert.equal(itemUrl('https://f.example.com/api/v2/package/', 'Foo', '1.0.0-Beta%2B1'), 'https://f.example.com/api/v2/package/Foo/1.0.0-Beta%2B1');
  });
  it('keeps a query string on the @id', () => {
    assert.equal(pushUrl('https://f.example.com/push?tenant=a'), 'https://f.example.com/push/?tenant=a');
  });
});
