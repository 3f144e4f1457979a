export interface Output {
  id: string;
  url: string;
  content_type: string;
  bytes: number;
}

/** A task output shown by its type: an image, a video player (seekable) or an audio player. */
export function MediaOutput(props: { output: Output; label: string; thumbnail?: boolean }) {
  const { output, label } = props;
  if (output.content_type.startsWith('image/')) {
    return <img class={props.thumbnail ? 'thumb' : 'full'} src={output.url} alt={label} loading="lazy" />;
  }
  if (output.content_type.startsWith('video/')) {
    return <video class={props.thumbnail ? 'thumb' : 'full'} src={output.url} controls preload="metadata" aria-label={label} />;
  }
  if (output.content_type.startsWith('audio/')) {
    return <audio src={output.url} controls preload="metadata" aria-label={label} />;
  }
  return <a href={output.url} rel="noreferrer">{label} ({output.content_type})</a>;
}
