/** The subnet rules every network create applies (issue #22's first defect and its validation list). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WeftException } from '@weft/kernel';
import { checkSubnets, familyOf, subnetProblem, SubnetCodes, type SubnetRequest } from './mod.ts';

const problem = (v6: boolean, ...subnets: SubnetRequest[]): string => subnetProblem('p', 'n', v6, subnets)?.message ?? 'none';

test('a usable dual-stack, IPv6-only or IPv4 network passes', () => {
  assert.is(subnetProblem('p', 'n', true, [{ Subnet: '198.19.60.0/24' }, { Subnet: 'fd00:60::/64', Gateway: 'fd00:60::1' }]), undefined);
  assert.is(subnetProblem('p', 'n', true, [{ Subnet: 'fd00:60::/48' }]), undefined);
  assert.is(subnetProblem('p', 'n', true, [{ Subnet: 'fd00:60::/120', IPRange: 'fd00:60::80/121', AuxiliaryAddresses: { r: 'fd00:60::2' } }]), undefined);
  assert.is(subnetProblem('p', 'n', false, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.254' }, { Subnet: '' }, {}]), undefined);
  assert.is(subnetProblem('p', 'n', false, []), undefined);
});

test('an IPv6 subnet without --ipv6 is refused with the reason and the fix (the issue\'s repro)', () => {
  const e = subnetProblem('control', 'v6net', false, [{ Subnet: '198.19.60.0/24' }, { Subnet: 'fd00:60::/64' }]);
  assert.ok(e);
  assert.is(e.category, 'BadRequest');
  assert.is(e.code, SubnetCodes.badSubnet);
  assert.is(e.plugin, 'control');
  assert.is(e.message, 'Cannot create network "v6net": subnet fd00:60::/64 is IPv6 but the network does not enable IPv6');
  assert.is(e.path, 'IPAM.Config[1].Subnet');
  assert.is(e.value, 'fd00:60::/64');
  assert.match(e.hint ?? '', '--ipv6');
});

test('IPv6-only (--ipv4=false): needs --ipv6, takes no IPv4 subnet; both refusals say why and what to do', () => {
  assert.is(subnetProblem('p', 'n', true, [{ Subnet: 'fd00:61::/64' }], false), undefined);
  assert.is(subnetProblem('p', 'n', true, [], false), undefined, 'IPAM picks the IPv6 subnet');
  const none = subnetProblem('control', 'v6only', false, [], false);
  assert.ok(none);
  assert.is(none.category, 'BadRequest');
  assert.is(none.path, 'EnableIPv4');
  assert.match(none.message, 'Cannot create network "v6only": IPv4 is disabled (--ipv4=false) and IPv6 is not enabled');
  assert.match(none.hint ?? '', '--ipv6');
  const v4 = subnetProblem('control', 'v6only', true, [{ Subnet: 'fd00:61::/64' }, { Subnet: '10.61.0.0/24' }], false);
  assert.ok(v4);
  assert.is(v4.message, 'Cannot create network "v6only": subnet 10.61.0.0/24 is IPv4 but the network disables IPv4 (--ipv4=false): it is IPv6-only');
  assert.is(v4.path, 'IPAM.Config[1].Subnet');
  assert.throws(() => checkSubnets('p', 'n', false, [{ Subnet: 'fd00:61::/64' }], false), (e: unknown) => e instanceof WeftException && /IPv4 is disabled/.test(e.error.message));
});

test('IPv6 prefix bounds: /48 to /120', () => {
  assert.match(problem(true, { Subnet: 'fd00::/47' }), 'IPv6 subnet fd00::/47 has prefix length /47; an IPv6 subnet must be /48 to /120');
  assert.match(problem(true, { Subnet: 'fd00::/121' }), 'has prefix length /121');
  assert.match(problem(true, { Subnet: 'fd00::/128' }), 'has prefix length /128');
  assert.is(problem(true, { Subnet: 'fd00::/120' }), 'none');
});

test('link-local, multicast, loopback and unspecified ranges are refused, both families', () => {
  assert.match(problem(true, { Subnet: 'fe80::/64' }), 'subnet fe80::/64 overlaps the link-local range fe80::/10');
  assert.match(problem(true, { Subnet: 'ff02::/64' }), 'overlaps the multicast range ff00::/8');
  assert.match(problem(true, { Subnet: '::/64' }), 'overlaps the unspecified address ::');
  assert.match(problem(true, { Subnet: '::/120' }), 'overlaps the unspecified address ::');
  assert.match(problem(false, { Subnet: '169.254.3.0/24' }), 'overlaps the link-local range 169.254.0.0/16');
  assert.match(problem(false, { Subnet: '239.1.0.0/16' }), 'overlaps the multicast range 224.0.0.0/4');
  assert.match(problem(false, { Subnet: '127.0.0.0/24' }), 'overlaps the loopback range');
  assert.match(problem(false, { Subnet: '224.0.0.0/3' }), 'overlaps the multicast range');
});

test('a v4 address given for a v6 subnet (or the reverse) is refused, naming both', () => {
  assert.is(problem(true, { Subnet: 'fd00:1::/64', Gateway: '10.0.0.1' }), 'Cannot create network "n": gateway 10.0.0.1 is IPv4 but subnet fd00:1::/64 is IPv6');
  assert.match(problem(true, { Subnet: '10.0.0.0/24', Gateway: 'fd00::1' }), 'gateway fd00::1 is IPv6 but subnet 10.0.0.0/24 is IPv4');
  assert.match(problem(true, { Subnet: 'fd00:1::/64', IPRange: '10.0.0.0/25' }), 'ip-range 10.0.0.0/25 is IPv4 but subnet fd00:1::/64 is IPv6');
  assert.match(problem(true, { Subnet: 'fd00:1::/64', AuxiliaryAddresses: { r: '10.0.0.9' } }), 'auxiliary address r= 10.0.0.9 is IPv4');
  assert.match(problem(true, { Subnet: 'fd00:1::/64', Gateway: 'nope' }), 'gateway "nope" of subnet fd00:1::/64');
  assert.match(problem(true, { Subnet: 'fd00:1::/64x' }), 'subnet: invalid CIDR');
});

test('the first problem is reported; checkSubnets throws it', () => {
  try {
    checkSubnets('p', 'n', false, [{ Subnet: '10.0.0.0/24' }, { Subnet: 'fe80::/64' }, { Subnet: 'fd00::/64' }]);
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, WeftException);
    assert.match((e as WeftException).error.message, 'fe80::/64 overlaps the link-local range');
  }
  assert.is(familyOf('fd00::1/64'), 6);
  assert.is(familyOf('10.0.0.1'), 4);
  assert.is(familyOf('x'), undefined);
});

test.run();
