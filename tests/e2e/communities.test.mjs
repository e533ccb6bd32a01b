// Communities from the extension: made, joined with an invite code, managed
// (members, roles, invites listed and revoked) and left, against the real server.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, eventually, launchBrowser, signIn, startStack } from './harness.mjs';

let extensionDir;

before(async () => {
  ({ extensionDir } = await startStack());
});
after(cleanupAll);

async function optionsOf(browser) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/options.html`);
  await page.getByTestId('communities').waitFor();
  return page;
}

const notice = (page) => page.getByTestId('community-notice').textContent();

describe('communities in the extension', () => {
  test('made, joined with a code, managed and left', async () => {
    const alice = await launchBrowser(extensionDir);
    await signIn(alice.context, alice.extensionId, 'alice', 'alice-demo-password');
    const bob = await launchBrowser(extensionDir);
    await signIn(bob.context, bob.extensionId, 'bob', 'bob-demo-password');

    // Alice makes a community; she owns it.
    const options = await optionsOf(alice);
    await options.getByTestId('community-name').fill('Book club');
    await options.getByTestId('create-community').click();
    const club = options.locator('[data-testid="my-community"][data-slug="book-club"]');
    await club.waitFor();
    assert.equal(await club.getByTestId('my-role').textContent(), 'owner');
    assert.match(await notice(options), /Book club is made/);

    // She invites someone: a code shown once, listed as an open invite.
    await club.getByTestId('invite').click();
    const code = (await eventually(() => club.getByTestId('invite-code').textContent(), 'the invite code')).trim();
    await eventually(async () => (await club.getByTestId('open-invite').count()) === 1, 'the open invite listed');
    assert.ok(!(await club.getByTestId('invites').textContent()).includes(code), 'the list never shows the code');

    // Bob joins with the code; alice sees him among the members.
    const bobOptions = await optionsOf(bob);
    await bobOptions.getByTestId('join-code').fill(code);
    await bobOptions.getByTestId('join').click();
    const bobClub = bobOptions.locator('[data-testid="my-community"][data-slug="book-club"]');
    await bobClub.waitFor();
    assert.equal(await bobClub.getByTestId('my-role').textContent(), 'member');
    assert.equal(await bobClub.getByTestId('invite').count(), 0, 'a member cannot invite');
    // The code was for one person: it is used up.
    await bobOptions.getByTestId('join-code').fill(code);
    await bobOptions.getByTestId('join').click();
    // (bob is already a member: the server answers with the membership he has)
    await club.getByTestId('community-members').click(); // hide
    await club.getByTestId('community-members').click(); // and open again: read fresh
    await eventually(async () => (await club.getByTestId('member').count()) === 2, 'bob among the members');
    assert.equal(await club.getByTestId('open-invite').count(), 0, 'the used code is gone');

    // Alice makes bob a moderator; a second invite is revoked and lets nobody in.
    const bobRow = club.getByTestId('member').filter({ hasText: '@bob' });
    await bobRow.getByTestId('member-role').selectOption('moderator');
    await eventually(async () => /bob is now a moderator/.test(await notice(options)), 'the role changed');
    await club.getByTestId('invite').click();
    const second = await eventually(async () => {
      const c = (await club.getByTestId('invite-code').textContent()).trim();
      return c !== code && c;
    }, 'a second code');
    await eventually(async () => (await club.getByTestId('revoke-invite').count()) === 1, 'the second invite listed');
    await club.getByTestId('revoke-invite').click();
    await eventually(async () => /Invite revoked/.test(await notice(options)), 'the invite revoked');
    await club.getByTestId('no-invites').waitFor();
    const carol = await launchBrowser(extensionDir);
    await signIn(carol.context, carol.extensionId, 'carol', 'carol-demo-password');
    const carolOptions = await optionsOf(carol);
    await carolOptions.getByTestId('join-code').fill(second);
    await carolOptions.getByTestId('join').click();
    await eventually(async () => /unknown, expired or used up/.test(await notice(carolOptions)), 'the refusal');
    assert.equal(await carolOptions.locator('[data-slug="book-club"]').count(), 0);

    // Bob leaves; his list no longer has it, and new highlights do not go there.
    await bobOptions.reload();
    await bobOptions.locator('[data-testid="my-community"][data-slug="book-club"]').getByTestId('leave').click();
    await eventually(async () => /You left Book club/.test(await notice(bobOptions)), 'bob left');
    assert.equal(await bobOptions.locator('[data-slug="book-club"]').count(), 0);
    const options2 = await bobOptions.getByTestId('community').locator('option').allTextContents();
    assert.ok(!options2.includes('Book club'), `${options2}`);
  });
});
