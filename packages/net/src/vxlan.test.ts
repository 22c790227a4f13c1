import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { writeVxlanHeader, vxlanVni, encodeVxlan, decodeVxlan, VXLAN_HEADER_LEN, VXLAN_PORT } from './vxlan.ts';
import { hex, toHex } from './_testutil.ts';

test('RFC 7348 §5 layout', () => {
  assert.is(VXLAN_PORT, 4789);
  assert.is(toHex(encodeVxlan(0x123456)), '0800000012345600');
  assert.is(toHex(encodeVxlan(4096)), '0800000000100000');
  assert.is(vxlanVni(hex('0800000012345600')), 0x123456);
  assert.equal(decodeVxlan(hex('ff 0800000000000100 00'), 1), { vni: 1, payloadOffset: 9 });
});

test('decode rejects a missing I flag and truncation; ignores reserved bits', () => {
  assert.is(vxlanVni(hex('0000000012345600')), -1);
  assert.is(vxlanVni(hex('08000000123456')), -1);
  assert.is(vxlanVni(hex('0800000012345600'), 0, 7), -1);
  assert.is(vxlanVni(hex('0800000012345600'), -1), -1);
  // Receivers MUST ignore reserved fields and other flag bits (RFC 7348 §5).
  assert.is(vxlanVni(hex('0fffffff123456ff')), 0x123456);
  assert.is(decodeVxlan(hex('00')), undefined);
});

test('encode validates the VNI', () => {
  assert.throws(() => encodeVxlan(-1), /out of range/);
  assert.throws(() => encodeVxlan(1 << 24), /out of range/);
});

test('property: encode/decode round trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.integer({ min: 0, max: 8 }), (vni, off) => {
      const b = new Uint8Array(off + VXLAN_HEADER_LEN).fill(0xaa);
      assert.is(writeVxlanHeader(b, off, vni), off + VXLAN_HEADER_LEN);
      assert.is(vxlanVni(b, off), vni);
      assert.is(b[off + 1]! | b[off + 2]! | b[off + 3]! | b[off + 7]!, 0);
    }),
  );
});

test.run();
