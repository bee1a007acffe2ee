package io.zlayer.worker.it;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw HTTP/2 client for frame-level abuse (issue 14): TLS with ALPN {@code h2} on its own Netty
 * event loop, frames written byte for byte (so a test can send what no conforming codec would: a
 * window over 2^31-1, even stream ids, a CONTINUATION that never ends), header blocks encoded
 * with Netty's HPACK encoder ({@link DefaultHttp2HeadersEncoder}). What the server sends back is
 * parsed just enough to tell a GOAWAY (and its code), an RST_STREAM, a response's HEADERS, PING
 * and SETTINGS acks, and a close.
 */
final class H2Raw implements AutoCloseable {
  static final int DATA = 0;
  static final int HEADERS = 1;
  static final int PRIORITY = 2;
  static final int RST_STREAM = 3;
  static final int SETTINGS = 4;
  static final int PING = 6;
  static final int GOAWAY = 7;
  static final int WINDOW_UPDATE = 8;
  static final int CONTINUATION = 9;
  static final int END_STREAM = 0x1;
  static final int ACK = 0x1;
  static final int END_HEADERS = 0x4;
  static final int PRIORITY_FLAG = 0x20;

  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
  private final SslContext ssl;
  private final int port;

  H2Raw(int port) throws Exception {
    this.port = port;
    this.ssl = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
        .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2))
        .build();
  }

  /** A TLS connection with ALPN h2, handshake done, nothing sent yet. */
  Conn connect() throws Exception {
    Conn conn = new Conn();
    Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class).handler(new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel c) {
        c.pipeline().addLast(ssl.newHandler(c.alloc(), "127.0.0.1", port), conn);
      }
    }).connect("127.0.0.1", port).sync().channel();
    SslHandler tls = ch.pipeline().get(SslHandler.class);
    if (!tls.handshakeFuture().await(10, TimeUnit.SECONDS) || !tls.handshakeFuture().isSuccess()) {
      ch.close();
      throw new IllegalStateException("TLS handshake: " + tls.handshakeFuture().cause());
    }
    conn.channel = ch;
    conn.alpn = tls.applicationProtocol();
    return conn;
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** One connection: build frames with {@link #frame}, send them with {@link #flush}. */
  static final class Conn extends ChannelInboundHandlerAdapter {
    volatile Channel channel;
    volatile String alpn;
    /** The first GOAWAY, RST_STREAM or close, as text ("GOAWAY ENHANCE_YOUR_CALM", "RST_STREAM 1 PROTOCOL_ERROR", "closed"). */
    final CompletableFuture<String> verdict = new CompletableFuture<>();
    final CompletableFuture<Void> closed = new CompletableFuture<>();
    volatile long goAwayCode = -1;
    final AtomicInteger resets = new AtomicInteger();
    final AtomicInteger pingAcks = new AtomicInteger();
    final AtomicInteger settingsAcks = new AtomicInteger();
    final AtomicInteger framesIn = new AtomicInteger();
    /** The GOAWAY's error code. */
    final CompletableFuture<Long> goAway = new CompletableFuture<>();
    /** Completes when {@link #ackTarget} PING or SETTINGS acks have come. */
    final CompletableFuture<Void> acked = new CompletableFuture<>();
    volatile int ackTarget = Integer.MAX_VALUE;
    private final Map<Integer, CompletableFuture<Integer>> answers = new ConcurrentHashMap<>();
    private final Http2HeadersEncoder hpack = new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE);
    private ByteBuf pending = Unpooled.buffer();
    private boolean pendingHasPreface;
    /** Event-loop confined: the server's SETTINGS are acked only after our preface is on the wire. */
    private boolean prefaceWritten;
    private int acksOwed;
    private ByteBuf in;

    Conn() {
      try {
        hpack.configuration().maxHeaderTableSize(0); // the controller allows no dynamic table
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    /** Appends one raw frame (9-byte header + payload) to what {@link #flush} sends. */
    Conn frame(int type, int flags, int stream, byte[] payload) {
      pending.writeMedium(payload.length).writeByte(type).writeByte(flags).writeInt(stream).writeBytes(payload);
      return this;
    }

    Conn raw(byte[] bytes) {
      pending.writeBytes(bytes);
      return this;
    }

    Conn preface() {
      raw(ByteBufUtil.getBytes(Http2CodecUtil.connectionPrefaceBuf()));
      pendingHasPreface = true;
      return frame(SETTINGS, 0, 0, new byte[0]);
    }

    /** A SETTINGS payload of (id, value) pairs, values as unsigned 32 bits. */
    static byte[] settings(long... idValues) {
      ByteBuf b = Unpooled.buffer();
      for (int i = 0; i < idValues.length; i += 2) {
        b.writeShort((int) idValues[i]).writeInt((int) idValues[i + 1]);
      }
      return bytes(b);
    }

    static byte[] u32(long value) {
      return bytes(Unpooled.buffer(4).writeInt((int) value));
    }

    static byte[] bytes(ByteBuf b) {
      byte[] out = new byte[b.readableBytes()];
      b.readBytes(out);
      b.release();
      return out;
    }

    /** The HPACK block of {@code headers}. */
    byte[] block(int stream, Http2Headers headers) {
      ByteBuf b = Unpooled.buffer();
      try {
        hpack.encodeHeaders(stream, headers, b);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      return bytes(b);
    }

    /** HEADERS (+ CONTINUATION past 16 KiB) carrying {@code headers}. */
    Conn headers(int stream, Http2Headers headers, boolean endStream) {
      byte[] block = block(stream, headers);
      int chunk = 16_384;
      int off = 0;
      boolean first = true;
      do {
        int n = Math.min(chunk, block.length - off);
        byte[] part = java.util.Arrays.copyOfRange(block, off, off + n);
        off += n;
        boolean last = off >= block.length;
        int flags = (last ? END_HEADERS : 0) | (first && endStream ? END_STREAM : 0);
        frame(first ? HEADERS : CONTINUATION, flags, stream, part);
        first = false;
      } while (off < block.length);
      return this;
    }

    static Http2Headers request(String method, String path) {
      return new DefaultHttp2Headers().method(method).scheme("https").authority("127.0.0.1").path(path);
    }

    /** Completes with the :status of the response HEADERS on {@code stream}. */
    CompletableFuture<Integer> answer(int stream) {
      return answers.computeIfAbsent(stream, s -> new CompletableFuture<>());
    }

    Conn flush() {
      ByteBuf out = pending;
      boolean preface = pendingHasPreface;
      pending = Unpooled.buffer();
      pendingHasPreface = false;
      channel.eventLoop().execute(() -> {
        channel.write(out);
        if (preface) {
          prefaceWritten = true;
          for (; acksOwed > 0; acksOwed--) {
            channel.write(settingsAck());
          }
        }
        channel.flush();
      });
      return this;
    }

    private static ByteBuf settingsAck() {
      return Unpooled.wrappedBuffer(new byte[] {0, 0, 0, SETTINGS, ACK, 0, 0, 0, 0});
    }

    void autoRead(boolean on) {
      channel.config().setAutoRead(on);
      if (on) {
        channel.read();
      }
    }

    void close() {
      if (channel != null) {
        channel.close();
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf b = (ByteBuf) msg;
      if (in == null) {
        in = ctx.alloc().heapBuffer();
      }
      in.writeBytes(b);
      b.release();
      while (in.readableBytes() >= 9) {
        int len = in.getUnsignedMedium(in.readerIndex());
        if (in.readableBytes() < 9 + len) {
          break;
        }
        int type = in.getUnsignedByte(in.readerIndex() + 3);
        int flags = in.getUnsignedByte(in.readerIndex() + 4);
        int stream = in.getInt(in.readerIndex() + 5) & 0x7fffffff;
        ByteBuf payload = in.slice(in.readerIndex() + 9, len);
        framesIn.incrementAndGet();
        switch (type) {
          case SETTINGS -> {
            if ((flags & ACK) != 0) {
              if (settingsAcks.incrementAndGet() >= ackTarget) {
                acked.complete(null);
              }
            } else {
              if (prefaceWritten) {
                ctx.writeAndFlush(settingsAck());
              } else {
                acksOwed++; // the server speaks first; an ack before our preface would be a garbage preface
              }
            }
          }
          case PING -> {
            if ((flags & ACK) != 0) {
              if (pingAcks.incrementAndGet() >= ackTarget) {
                acked.complete(null);
              }
            }
          }
          case GOAWAY -> {
            goAwayCode = payload.getUnsignedInt(4);
            goAway.complete(goAwayCode);
            verdict.complete("GOAWAY " + errorName(goAwayCode));
          }
          case RST_STREAM -> {
            resets.incrementAndGet();
            verdict.complete("RST_STREAM " + errorName(payload.getUnsignedInt(0)));
            answer(stream).complete(-1);
          }
          case HEADERS -> answer(stream).complete(status(payload, flags));
          default -> { }
        }
        in.skipBytes(9 + len);
      }
      in.discardReadBytes();
    }

    /** The response status: responses here are small, so ":status" is in the first block (static table index 8..14 or a literal). */
    private static int status(ByteBuf block, int flags) {
      int i = block.readerIndex();
      if ((flags & 0x8) != 0) {
        i += 1; // pad length
      }
      if ((flags & PRIORITY_FLAG) != 0) {
        i += 5;
      }
      while (i < block.writerIndex()) {
        int b = block.getUnsignedByte(i);
        if ((b & 0xe0) == 0x20) {
          i++; // dynamic table size update
          continue;
        }
        if ((b & 0x80) != 0) {
          return switch (b & 0x7f) {
            case 8 -> 200;
            case 9 -> 204;
            case 10 -> 206;
            case 11 -> 304;
            case 12 -> 400;
            case 13 -> 404;
            case 14 -> 500;
            default -> 0;
          };
        }
        // literal with an indexed name (:status is index 8..14): the value follows, 3 digits
        if ((b & 0x0f) >= 8 && (b & 0x0f) <= 14 && (b & 0xf0) == 0) {
          int lenByte = block.getUnsignedByte(i + 1);
          if ((lenByte & 0x80) == 0 && (lenByte & 0x7f) == 3) {
            return Integer.parseInt(block.toString(i + 2, 3, StandardCharsets.US_ASCII));
          }
          return 1; // Huffman-coded status: some status
        }
        return 1;
      }
      return 1;
    }

    static String errorName(long code) {
      String[] names = {"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
          "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
          "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
      return code >= 0 && code < names.length ? names[(int) code] : "0x" + Long.toHexString(code);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      verdict.complete("closed");
      closed.complete(null);
      answers.values().forEach(f -> f.complete(-1));
      if (in != null) {
        in.release();
        in = null;
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
