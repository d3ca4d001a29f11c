/**
 * End to end: the Telegram assistant (examples/02's wiring) in one Node-RED runtime. grammY polls
 * the fake Bot API, the openai SDK streams from the OpenAI fake, pairing and sessions live in
 * files. What a user of the bot sees is asserted on the fake Telegram's record of what the bot
 * sent (edits applied), what the model got on the fake's record of requests.
 */
import assert from 'node:assert/strict';
import { helper } from '../support/node-red';
import { LeakWatch } from '../support/e2e-pipeline';
import { LLM_KEY, sentWithText, startTelegramPipeline, telegramUser, waitForReply, type TelegramPipeline } from '../support/e2e-telegram';

describe('e2e pipeline: Telegram assistant (pairing, session, llm with a tool, streaming)', function () {
  this.timeout(30_000);
  let p: TelegramPipeline;

  beforeEach(async () => {
    p = await startTelegramPipeline();
  });
  afterEach(async () => {
    await p.close();
  });

  it('a stranger gets a pairing code and no llm call; once approved, a tool-using answer streams into one message', async () => {
    const { tg, llm } = p;
    // 1. A stranger writes: a pairing code comes back, the model is never asked.
    tg.userSays('hello, who are you?');
    const codeMsg = await tg.waitForSent((m) => m.chatId === tg.dm.id && /pairing code is/.test(m.text));
    const code = /pairing code is (\S+?)\./.exec(codeMsg.text)?.[1];
    assert.ok(code, codeMsg.text);
    tg.userSays('hello?? anyone?');
    await tg.waitFor(() => tg.sent(tg.dm.id).length === 2, 'the pending reply');
    assert.match(tg.sent(tg.dm.id)[1].text, new RegExp(code!), 'the second reply repeats the same code');
    assert.equal(llm.chatRequests().length, 0, 'the llm was called for a stranger');

    // 2. The owner approves (an input message, as from an inject node): the person is told.
    helper.getNode('rf').receive({ topic: 'pairing/approve', payload: code });
    await tg.waitFor(() => tg.sent(tg.dm.id).length === 3, 'the approval notice');

    // 3. The next message is answered. The model asks for get_time, the function node answers
    //    through the tool result node, and the model's final text streams: a draft shows first
    //    (the stream is held until it does), then the same message becomes the final answer.
    const answer = 'It is noon in UTC. Have a nice lunch!';
    llm.enqueue({ toolCalls: [{ name: 'get_time', arguments: { timezone: 'UTC' } }] }, { text: answer, pieces: 4 });
    llm.gate = async (index, req) => {
      const isSecond = llm.chatRequests().indexOf(req) === 1;
      if (isSecond && index === 2) await tg.waitFor(() => tg.sent(tg.dm.id).some((m) => m.text.startsWith('It is') && m.text.endsWith('…')), 'a draft');
    };
    tg.userSays('what time is it in UTC?');
    const final = await waitForReply(tg, tg.dm.id, answer);
    assert.equal(final.history[0].endsWith('…'), true, `first shown as a draft: ${JSON.stringify(final.history)}`);
    assert.ok(final.edits >= 1);
    assert.equal(sentWithText(tg, tg.dm.id, answer).length, 1, 'the final answer came twice');
    assert.equal(tg.sent(tg.dm.id).length, 4, 'a draft was left behind or a duplicate sent');

    // The tool call went round: the second request carries the function node's answer.
    const reqs = llm.chatRequests();
    assert.equal(reqs.length, 2);
    assert.deepEqual(reqs[0].body.tools.map((t: any) => t.function.name), ['get_time']);
    const toolMsg = reqs[1].body.messages.find((m: any) => m.role === 'tool');
    assert.equal(toolMsg?.content, 'It is 12:00 in UTC.');
    const lastUser = reqs[0].body.messages.filter((m: any) => m.role === 'user').pop();
    assert.equal(lastUser.content, 'what time is it in UTC?');
    assert.equal(reqs[0].headers.authorization, `Bearer ${LLM_KEY}`);

    // 4. The conversation continues in the same session: the model sees the earlier turn.
    llm.gate = undefined;
    tg.userSays('thanks');
    await waitForReply(tg, tg.dm.id, 'echo: thanks');
    const third = llm.chatRequests()[2].body.messages;
    assert.ok(third.some((m: any) => m.role === 'assistant' && m.content === answer), 'history lost the earlier answer');
    assert.deepEqual(LeakWatch.linesWith(LLM_KEY), []);
  });

  it('in a group, chatter without a mention is ignored; a mention is answered, quoting the user', async () => {
    const { tg, llm } = p;
    const ann = telegramUser(3003, 'Cat');
    tg.userSays('just chatting about lunch', { chat: tg.group, from: ann.from });
    const asked = tg.userSays('@clawflow_test_bot what do you think?', { chat: tg.group, from: ann.from });
    const reply = await waitForReply(tg, tg.group.id, 'echo: @clawflow_test_bot what do you think?');
    assert.equal(reply.replyToMessageId, asked.message.message_id);
    assert.equal(llm.chatRequests().length, 1, 'the unmentioned message started its own llm call');
    const msgs = llm.chatRequests()[0].body.messages;
    assert.equal(msgs[msgs.length - 1].content, '@clawflow_test_bot what do you think?');
    assert.equal(tg.sent(tg.group.id).length, 1, 'the chatter got a reply');
    assert.equal(tg.sent().length, 1, 'a stranger in the group was sent a pairing code');
  });
});
