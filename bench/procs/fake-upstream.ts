/**
 * The fake OpenAI-compatible upstream of the chat benchmark, in a process of its own: the same fake the
 * integration tests use (test/fakes), answering a short fixed reply. Prints `READY <json>` with its url
 * and key, then serves until SIGTERM.
 */
import { startOpenAIFake } from '../../test/fakes/openai-fake';

async function main(): Promise<void> {
  const fake = await startOpenAIFake();
  fake.chat.setReply('The quick brown fox jumps over the lazy dog.');
  // The fake keeps a log of every request for test assertions; a benchmark would only grow it.
  setInterval(() => fake.clearRequests(), 1000).unref();
  process.stdout.write(`READY ${JSON.stringify({ url: fake.url, origin: fake.origin, apiKey: fake.apiKey })}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`fake upstream failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
