/** The fake provider servers (one per protocol) and their shared types. */
export * from './fake-server';
export { OpenAIFake, openAIKey, startOpenAIFake } from './openai-fake';
export type { ChatRoughness } from './chat-rough';
export { OpenAIChatFake, fakeEmbedding, fakePromptTokens, fakeReplyPieces, fakeTokenCount, type ChatUsage } from './openai-chat';
export { ArkFake, startArkFake, type ArkFakeOptions } from './ark-fake';
export { ReplicateFake, replicateToken, startReplicateFake, type ReplicateOutputShape } from './replicate-fake';
export { FAL_REQUEST_ERROR_TYPES, FalFake, startFalFake, type FalAudioKey, type FalFakeOptions } from './fal-fake';
export { HTML_WITH_SCRIPT, SVG_WITH_SCRIPT, type OutputServing } from './rough-outputs';
export { GeminiFake, VEO_MODELS, startGeminiFake } from './gemini-fake';
export { KLING_IMAGE_MODELS, KLING_VIDEO_MODELS, KlingFake, startKlingFake, type KlingCallbackSent, type KlingFakeOptions } from './kling-fake';
export { MiniMaxFake, startMiniMaxFake, unknownMiniMaxTaskId, type MiniMaxFakeOptions, type SentCallback } from './minimax-fake';
export { DashScopeFake, startDashScopeFake } from './dashscope-fake';
export { RunwayFake, startRunwayFake, type RunwayFakeOptions } from './runway-fake';
export { ElevenLabsFake, startElevenLabsFake, type ElevenLabsFakeOptions } from './elevenlabs-fake';
export { LumaFake, startLumaFake, type LumaCallbackSent } from './luma-fake';
export { StabilityFake, startStabilityFake } from './stability-fake';
