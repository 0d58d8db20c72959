using CimAspire.Protocol;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// Splits the inbound stream into frames: a varint32 length, then that many bytes. A length above the limit or a
/// varint longer than five bytes is a protocol violation; after one, every further byte is discarded.
/// </summary>
public sealed class VarintFrameDecoder(int maxFrameBytes) : ByteToMessageDecoder
{
    private bool _failed;

    protected override void Decode(IChannelHandlerContext context, IByteBuffer input, List<object> output)
    {
        while (!_failed && input.IsReadable())
        {
            var start = input.ReaderIndex;
            var length = 0;
            var shift = 0;
            var complete = false;
            for (var i = 0; i < 5; i++)
            {
                if (!input.IsReadable())
                {
                    input.SetReaderIndex(start);
                    return;
                }

                var b = input.ReadByte();
                length |= (b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    complete = true;
                    break;
                }

                shift += 7;
            }

            if (!complete || length < 0)
            {
                Fail(input, ErrorCode.MalformedFrame, "The frame length prefix is not a valid varint32.");
            }

            if (length > maxFrameBytes)
            {
                Fail(input, ErrorCode.FrameTooLarge, $"The frame is {length} bytes; the limit is {maxFrameBytes}.");
            }

            if (input.ReadableBytes < length)
            {
                input.SetReaderIndex(start);
                return;
            }

            output.Add(input.ReadRetainedSlice(length));
        }

        if (_failed)
        {
            input.SkipBytes(input.ReadableBytes);
        }
    }

    private void Fail(IByteBuffer input, ErrorCode code, string message)
    {
        _failed = true;
        input.SkipBytes(input.ReadableBytes);
        throw new ProtocolViolationException(code, message);
    }
}
