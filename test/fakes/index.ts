/** The fake provider servers (one per protocol) and their shared types. */
export * from './fake-server';
export { OpenAIFake, openAIKey, startOpenAIFake } from './openai-fake';
export { OpenAIChatFake, fakeEmbedding, fakePromptTokens, fakeReplyPieces, fakeTokenCount, type ChatUsage } from './openai-chat';
export { ArkFake, startArkFake, type ArkFakeOptions } from './ark-fake';
export { ReplicateFake, replicateToken, startReplicateFake, type ReplicateOutputShape } from './replicate-fake';
export { FAL_REQUEST_ERROR_TYPES, FalFake, startFalFake, type FalAudioKey, type FalFakeOptions } from './fal-fake';
export { MiniMaxFake, startMiniMaxFake, unknownMiniMaxTaskId, type MiniMaxFakeOptions, type SentCallback } from './minimax-fake';
export { DashScopeFake, startDashScopeFake } from './dashscope-fake';
