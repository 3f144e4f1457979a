/** The MiniMax (Hailuo video, music) wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of a `minimax` channel (the region is the base URL: api.minimax.io or api.minimaxi.com). */
export const MiniMaxSettings = BaseChannelSettings.extend({});
export type MiniMaxSettings = z.infer<typeof MiniMaxSettings>;

/** Every MiniMax answer carries `base_resp`; `status_code` 0 is success, anything else an error (often in HTTP 200). */
export const BaseResp = z.looseObject({
  status_code: z.number(),
  status_msg: z.string().nullish(),
});

export const WithBaseResp = z.looseObject({ base_resp: BaseResp.nullish() });

/** `POST /v1/video_generation` → `{task_id, base_resp}`. */
export const CreatedVideo = z.looseObject({ task_id: z.string().min(1), base_resp: BaseResp.nullish() });

/** `GET /v1/query/video_generation?task_id=`; `file_id` is a string here (an int in files/retrieve). */
export const VideoQuery = z.looseObject({
  task_id: z.string().nullish(),
  status: z.string(),
  file_id: z.union([z.string(), z.number()]).nullish(),
  video_width: z.number().nullish(),
  video_height: z.number().nullish(),
  base_resp: BaseResp.nullish(),
});
export type VideoQuery = z.infer<typeof VideoQuery>;

/** `GET /v1/files/retrieve?file_id=`. */
export const RetrievedFile = z.looseObject({
  file: z.looseObject({
    file_id: z.union([z.string(), z.number()]).nullish(),
    filename: z.string().nullish(),
    download_url: z.string().min(1),
    backup_download_url: z.string().nullish(),
  }),
  base_resp: BaseResp.nullish(),
});

/** `POST /v1/music_generation` (synchronous): `data.audio` is hex bytes (or a URL with `output_format:"url"`). */
export const MusicAnswer = z.looseObject({
  data: z.looseObject({ status: z.number().nullish(), audio: z.string().min(1) }),
  extra_info: z
    .looseObject({ music_duration: z.number().nullish(), music_sample_rate: z.number().nullish(), music_size: z.number().nullish() })
    .nullish(),
  trace_id: z.string().nullish(),
  base_resp: BaseResp.nullish(),
});
export type MusicAnswer = z.infer<typeof MusicAnswer>;
