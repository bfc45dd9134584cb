// RecorderImages (transport-image.ts): a plain URL at once on the LAN; remotely object URLs,
// each asked once while kept, the oldest revoked past the limit, all revoked by dispose().
import { describe, expect, it } from 'vitest'
import type { Transport } from '../api/transport'
import { RecorderImages } from './transport-image'

function remoteTransport(asked: string[]): Transport {
  return {
    door: 'remote',
    request: async () => null as never,
    socketUrl: () => '',
    mediaUrl: () => '',
    imageUrl: async (path: string) => {
      asked.push(path)
      if (path.includes('gap')) throw new Error('404')
      return URL.createObjectURL(new Blob([path], { type: 'image/jpeg' }))
    },
  }
}

const alive = async (url: string) => {
  try {
    await (await fetch(url)).arrayBuffer()
    return true
  } catch {
    return false
  }
}

describe('RecorderImages', () => {
  it('gives the LAN a plain URL at once, with the token', () => {
    const lan = { door: 'lan', mediaUrl: (path: string, token: string) => `http://rec/api/v1${path}?token=${token}` } as unknown as Transport
    const images = new RecorderImages(() => lan, () => 'T')
    expect(images.url('/cameras/cam1/preview.jpg')).toBe('http://rec/api/v1/cameras/cam1/preview.jpg?token=T')
  })

  it('asks the tunnel once per kept path and revokes the oldest past its size', async () => {
    const asked: string[] = []
    const transport = remoteTransport(asked)
    const images = new RecorderImages(() => transport, () => null, 2)
    const a = await images.url('/a')
    expect(await images.url('/a')).toBe(a) // kept: not asked again
    const b = await images.url('/b')
    await images.url('/a') // used again: /b is now the oldest
    const c = await images.url('/c')
    expect(asked).toEqual(['/a', '/b', '/c'])
    await new Promise((r) => setTimeout(r, 0))
    expect(await alive(b)).toBe(false) // evicted and revoked
    expect(await alive(a)).toBe(true)
    expect(await alive(c)).toBe(true)
    images.dispose()
    await new Promise((r) => setTimeout(r, 0))
    expect(await alive(a)).toBe(false)
    expect(await alive(c)).toBe(false)
  })

  it('asks again for a picture the recorder refused', async () => {
    const asked: string[] = []
    const transport = remoteTransport(asked)
    const images = new RecorderImages(() => transport, () => null)
    await expect(images.url('/gap')).rejects.toThrow('404')
    await expect(images.url('/gap')).rejects.toThrow('404')
    expect(asked).toEqual(['/gap', '/gap'])
  })
})
