// The browser's opening of sealed media objects against docs/ref/remote-media-vectors.json
// (the same vectors as the recorder's sealing.py), in WebCrypto as the app does it, and the
// playlist reading of the remote player (docs/ref/remote-media.md, sections 1 and 5).
import { describe, expect, it } from 'vitest'
import raw from '../../../docs/ref/remote-media-vectors.json?raw'
import { b64url, hex, unhex } from './bytes'
import { liveStart, type MediaSession, parsePlaylist, RelayLinks } from './media'
import { MEDIA_ORIGIN, nameOf } from './media-loader'
import { importSealKey, mediaAad, openSealed, SealError, thumbnailAad } from './sealed'

interface Vector {
  key: string
  key_b64url: string
  nonce: string
  aad: string
  plaintext: string
  sealed: string
}
const v = JSON.parse(raw) as { media: Vector & { msid: string; name: string }; thumbnail: Vector & { object_key: string } }

describe('sealed media objects', () => {
  it('passes the remote media test vectors', async () => {
    const media = v.media
    expect(hex(mediaAad(media.msid, media.name))).toBe(media.aad)
    expect(b64url(unhex(media.key))).toBe(media.key_b64url)
    const key = await importSealKey(media.key_b64url)
    expect(key.extractable).toBe(false)
    expect(hex(unhex(media.sealed).subarray(4, 16))).toBe(media.nonce)
    expect(hex(await openSealed(key, mediaAad(media.msid, media.name), unhex(media.sealed)))).toBe(media.plaintext)

    const thumb = v.thumbnail
    expect(hex(thumbnailAad(thumb.object_key))).toBe(thumb.aad)
    const thumbKey = await importSealKey(thumb.key_b64url)
    expect(hex(await openSealed(thumbKey, thumbnailAad(thumb.object_key), unhex(thumb.sealed)))).toBe(thumb.plaintext)
  })

  it('refuses an object moved to another name or session, tampered, or opened with another key', async () => {
    const media = v.media
    const key = await importSealKey(media.key_b64url)
    const sealed = unhex(media.sealed)
    await expect(openSealed(key, mediaAad(media.msid, 'p00000002.m4s'), sealed)).rejects.toBeInstanceOf(SealError)
    await expect(openSealed(key, mediaAad('BBECAwQFBgcICQoLDA0ODw', media.name), sealed)).rejects.toBeInstanceOf(SealError)
    const flipped = sealed.slice()
    flipped[20] ^= 1
    await expect(openSealed(key, mediaAad(media.msid, media.name), flipped)).rejects.toBeInstanceOf(SealError)
    const other = await importSealKey(v.thumbnail.key_b64url)
    await expect(openSealed(other, mediaAad(media.msid, media.name), sealed)).rejects.toBeInstanceOf(SealError)
    const unsealed = sealed.slice()
    unsealed[0] = 0x00 // not "SKM1"
    await expect(openSealed(key, mediaAad(media.msid, media.name), unsealed)).rejects.toThrow('not a sealed media object')
    await expect(openSealed(key, mediaAad(media.msid, media.name), sealed.subarray(0, 20))).rejects.toThrow('not a sealed')
    expect(() => mediaAad(media.msid, 'a\0b')).toThrow(SealError)
    await expect(importSealKey('AAEC')).rejects.toThrow('32 bytes')
  })
})

const LIVE = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI="init1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:01:02.345+00:00
#EXT-X-SKYCAM-INDEPENDENT
#EXTINF:1.000,
p00000041.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-12-06T03:01:03.345+00:00
#EXTINF:1.000,
p00000042.m4s
#EXT-X-SKYCAM-INDEPENDENT
#EXTINF:1.000,
p00000043.m4s
#EXTINF:1.000,
p00000044.m4s
#EXT-X-SKYCAM-INDEPENDENT
#EXTINF:0.500,
p00000045.m4s
`

describe('remote playlists', () => {
  it('reads names, starts, dates and the parts that start with a keyframe', () => {
    const entries = parsePlaylist(LIVE)
    expect(entries.map((e) => e.name)).toEqual(['p00000041.m4s', 'p00000042.m4s', 'p00000043.m4s', 'p00000044.m4s', 'p00000045.m4s'])
    expect(entries.map((e) => e.sequence)).toEqual([41, 42, 43, 44, 45])
    expect(entries.map((e) => e.start_s)).toEqual([0, 1, 2, 3, 4])
    expect(entries.map((e) => e.independent)).toEqual([true, false, true, false, true])
    expect(entries[1].date_ms).toBe(Date.parse('2026-12-06T03:01:03.345Z'))
    expect(entries[2].date_ms).toBeNull()
  })

  it('joins live at the newest keyframe part that leaves some media before the edge', () => {
    const entries = parsePlaylist(LIVE)
    expect(liveStart(entries)?.name).toBe('p00000043.m4s') // 2.5 s before the edge; p45 leaves 0.5 s
    expect(liveStart(entries, 0.5)?.name).toBe('p00000045.m4s')
    expect(liveStart(entries, 10)?.name).toBe('p00000045.m4s') // none leaves 10 s: the newest
    expect(liveStart(parsePlaylist(LIVE.replaceAll('#EXT-X-SKYCAM-INDEPENDENT\n', '')))?.name).toBe('p00000041.m4s')
    expect(liveStart([])).toBeNull()
  })

  it('asks the relay for links once, with the next parts ahead, until they near expiry', async () => {
    const asked: string[][] = []
    let expires = Date.now() / 1000 + 60
    const links = new RelayLinks(async (keys) => {
      asked.push(keys)
      return { links: Object.fromEntries(keys.map((k) => [k, `/objects/${k}?sig=x`])), expires_at: expires }
    })
    expect(await links.links(['m/p1'], ['m/p2', 'm/p3'])).toEqual(['/objects/m/p1?sig=x'])
    expect(await links.links(['m/p2'])).toEqual(['/objects/m/p2?sig=x'])
    expect(asked).toEqual([['m/p1', 'm/p2', 'm/p3']])
    expires = Date.now() / 1000 + 5 // within the margin: asked again every time
    await links.links(['m/p4'])
    await links.links(['m/p4'])
    expect(asked.length).toBe(3)
  })
})

describe('the hls.js loader', () => {
  it('maps only its own session\'s URLs to object names', () => {
    const session = { msid: 'AAECAwQFBgcICQoLDA0ODw' } as MediaSession
    expect(nameOf(session, `${MEDIA_ORIGIN}/AAECAwQFBgcICQoLDA0ODw/p00000041.m4s`)).toBe('p00000041.m4s')
    expect(nameOf(session, `${MEDIA_ORIGIN}/AAECAwQFBgcICQoLDA0ODw/index.m3u8?_HLS_msn=3`)).toBe('index.m3u8')
    expect(() => nameOf(session, `${MEDIA_ORIGIN}/BBECAwQFBgcICQoLDA0ODw/p00000041.m4s`)).toThrow('not an object of this media session')
    expect(() => nameOf(session, `${MEDIA_ORIGIN}/AAECAwQFBgcICQoLDA0ODw/../x/p1.m4s`)).toThrow()
    expect(() => nameOf(session, 'https://example.org/AAECAwQFBgcICQoLDA0ODw/p00000041.m4s')).toThrow()
  })
})
