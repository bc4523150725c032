#include "ingest/remote_write/decompress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <snappy.h>
#include <zstd.h>

namespace tp::ingest {
namespace {

using ::testing::HasSubstr;

std::string zstdCompress(const std::string& data, bool declare_size) {
  if (declare_size) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 1));
    return out;
  }
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress2(context, out.data(), out.size(), data.data(), data.size()));
  ZSTD_freeCCtx(context);
  return out;
}

TEST(DecompressBody, RoundTripsEveryEncoding) {
  const std::string data(100'000, 'x');
  std::string scratch;
  std::string snappy_body;
  snappy::Compress(data.data(), data.size(), &snappy_body);
  EXPECT_EQ(*decompressBody(snappy_body, BodyEncoding::kSnappy, 1 << 20, scratch), data);
  EXPECT_EQ(*decompressBody(zstdCompress(data, true), BodyEncoding::kZstd, 1 << 20, scratch), data);
  EXPECT_EQ(*decompressBody(zstdCompress(data, false), BodyEncoding::kZstd, 1 << 20, scratch),
            data);
  EXPECT_EQ(*decompressBody(data, BodyEncoding::kIdentity, 1 << 20, scratch), data);
}

TEST(DecompressBody, SnappyDeclaringFourGibIsRefusedBeforeAllocating) {
  // A 5-byte preamble declaring 4 GiB (the most a snappy block can), then nothing.
  const std::string bomb("\xff\xff\xff\xff\x0f", 5);
  std::string scratch;
  const auto result = decompressBody(bomb, BodyEncoding::kSnappy, 64 << 20, scratch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("decoded body of 4294967295 bytes exceeds the limit of 67108864"));
  EXPECT_LT(scratch.capacity(), 1u << 20);
}

TEST(DecompressBody, ZstdOverTheCapIsRefused) {
  const std::string data(2 << 20, 'z');
  std::string scratch;
  for (const bool declared : {true, false}) {
    const auto result =
        decompressBody(zstdCompress(data, declared), BodyEncoding::kZstd, 1 << 20, scratch);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << declared;
    EXPECT_LE(scratch.size(), (1u << 20) + 1);
  }
}

TEST(DecompressBody, IdentityOverTheCapIsRefused) {
  std::string scratch;
  EXPECT_EQ(decompressBody(std::string(2048, 'a'), BodyEncoding::kIdentity, 1024, scratch)
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(DecompressBody, CorruptInputIsABadRequest) {
  std::string scratch;
  std::string snappy_body;
  const std::string data(10'000, 'q');
  snappy::Compress(data.data(), data.size(), &snappy_body);
  const struct {
    std::string body;
    BodyEncoding encoding;
    const char* message;
  } cases[] = {
      {"", BodyEncoding::kSnappy, "invalid length preamble"},
      {std::string("\xff\xff\xff\xff\xff\xff", 6), BodyEncoding::kSnappy,
       "invalid length preamble"},
      {snappy_body.substr(0, snappy_body.size() / 2), BodyEncoding::kSnappy,
       "corrupt or truncated"},
      {"not zstd", BodyEncoding::kZstd, "not a zstd frame"},
      {zstdCompress(data, true).substr(0, 12), BodyEncoding::kZstd, "cannot decode zstd body"},
  };
  for (const auto& test : cases) {
    const auto result = decompressBody(test.body, test.encoding, 1 << 20, scratch);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << test.message;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(test.message));
  }
}

}  // namespace
}  // namespace tp::ingest
