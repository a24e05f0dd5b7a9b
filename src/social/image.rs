//! Fetching hero images for the platforms that need the bytes (Mastodon and
//! Bluesky upload them). One fetch per image per run, shared by every target;
//! http(s) only; a timeout; at most 10 MB; the answer must say `image/*` and
//! the bytes must be an image. Loopback, private and link-local addresses are
//! refused, checked on the resolved address of every connection (redirects
//! included), unless `social.allow_private_network` is set.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, OnceCell};
use url::Url;

/// Images larger than this are refused.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// A fetched image.
#[derive(Debug, Clone)]
pub struct ImageData {
    pub url: Url,
    pub content_type: String,
    pub bytes: Arc<Vec<u8>>,
}

type Slot = Arc<OnceCell<Result<Arc<ImageData>, String>>>;

/// Fetches each image URL at most once per run.
pub struct ImageFetcher {
    client: reqwest::Client,
    allow_private: bool,
    cache: Mutex<HashMap<Url, Slot>>,
}

impl ImageFetcher {
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::build(allow_private, timeout, HashMap::new())
    }

    /// A fetcher whose resolver answers `hosts` with the given addresses and
    /// treats them as public, as public DNS would: for tests of the guard
    /// against redirects to private addresses. Every other name and address
    /// is checked as usual.
    #[doc(hidden)]
    pub fn with_public_hosts(
        timeout: Duration,
        hosts: HashMap<String, SocketAddr>,
    ) -> Result<Self, reqwest::Error> {
        Self::build(false, timeout, hosts)
    }

    fn build(
        allow_private: bool,
        timeout: Duration,
        hosts: HashMap<String, SocketAddr>,
    ) -> Result<Self, reqwest::Error> {
        let hosts = Arc::new(hosts);
        let trusted = hosts.clone();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("more than 5 redirects");
                }
                let pretend_public = attempt
                    .url()
                    .host_str()
                    .is_some_and(|h| trusted.contains_key(h));
                match check_url(attempt.url(), allow_private || pretend_public) {
                    Ok(()) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly { hosts }));
        }
        let client = builder.build()?;
        Ok(ImageFetcher {
            client,
            allow_private,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The image at `url`, fetched now or earlier in this run.
    pub async fn get(&self, url: &Url) -> Result<Arc<ImageData>, String> {
        let slot = {
            let mut cache = self.cache.lock().await;
            cache.entry(url.clone()).or_default().clone()
        };
        slot.get_or_init(|| self.fetch(url)).await.clone()
    }

    async fn fetch(&self, url: &Url) -> Result<Arc<ImageData>, String> {
        check_url(url, self.allow_private)?;
        let mut response = self.client.get(url.clone()).send().await.map_err(|e| {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = s.to_string();
                source = s.source();
            }
            format!("hero image {url} could not be fetched: {detail}")
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("hero image {url} answered HTTP {status}"));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !content_type.starts_with("image/") {
            return Err(format!(
                "hero image {url} is not an image: the server says {:?}",
                if content_type.is_empty() {
                    "nothing"
                } else {
                    &content_type
                }
            ));
        }
        if let Some(len) = response.content_length()
            && len > MAX_IMAGE_BYTES as u64
        {
            return Err(format!(
                "hero image {url} is {len} bytes, over the 10 MB limit"
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("hero image {url} broke off: {e}"))?
        {
            if bytes.len() + chunk.len() > MAX_IMAGE_BYTES {
                return Err(format!("hero image {url} is over the 10 MB limit"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if ::image::guess_format(&bytes).is_err() {
            return Err(format!(
                "hero image {url} says {content_type} but its bytes are not an image herald can read"
            ));
        }
        Ok(Arc::new(ImageData {
            url: url.clone(),
            content_type,
            bytes: Arc::new(bytes),
        }))
    }
}

/// Where the driver gets hero images: `ImageFetcher` in a real run, a
/// stand-in in tests.
pub trait Images: Send + Sync {
    fn image<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Arc<ImageData>, String>>;
}

impl Images for ImageFetcher {
    fn image<'a>(&'a self, url: &'a Url) -> BoxFuture<'a, Result<Arc<ImageData>, String>> {
        Box::pin(self.get(url))
    }
}

/// Refuses non-http(s) URLs and, unless allowed, literal private addresses
/// (names are checked by the resolver).
fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url}: only http and https images are fetched"));
    }
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    match ip {
        Some(ip) if !is_public(ip) => Err(format!(
            "{url}: refused, {ip} is a private, loopback or link-local address (social.allow_private_network is off)"
        )),
        _ => Ok(()),
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xff00) == 0xff00) // multicast
        }
    }
}

/// A resolver that drops non-public addresses, so every connection (the
/// first and each redirect) goes only to the public internet.
struct PublicOnly {
    /// Test-only names answered without DNS and treated as public.
    hosts: Arc<HashMap<String, SocketAddr>>,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let fixed = self.hosts.get(name.as_str()).copied();
        Box::pin(async move {
            if let Some(addr) = fixed {
                return Ok(Box::new(std::iter::once(addr)) as reqwest::dns::Addrs);
            }
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                let shown = addrs
                    .first()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                return Err(format!(
                    "refused: {host} resolves to {shown}, a private, loopback or link-local address (social.allow_private_network is off)"
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    async fn fetcher_and_server() -> (ImageFetcher, MockServer, String) {
        let server = MockServer::start().await;
        let port = server.address().port();
        let hosts = HashMap::from([("images.public.test".to_string(), *server.address())]);
        let fetcher = ImageFetcher::with_public_hosts(Duration::from_secs(5), hosts).unwrap();
        (fetcher, server, format!("http://images.public.test:{port}"))
    }

    fn jpeg() -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        ::image::RgbImage::new(4, 4)
            .write_to(&mut out, ::image::ImageFormat::Jpeg)
            .unwrap();
        out.into_inner()
    }

    #[tokio::test]
    async fn redirects_to_private_addresses_are_refused() {
        let (fetcher, server, base) = fetcher_and_server().await;
        let port = server.address().port();
        Mock::given(path("/ok.jpg"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(jpeg()),
            )
            .mount(&server)
            .await;
        for (name, target) in [
            ("loopback", format!("http://127.0.0.1:{port}/ok.jpg")),
            (
                "metadata",
                "http://169.254.169.254/latest/meta-data/".to_string(),
            ),
            (
                "a name for loopback",
                format!("http://localhost:{port}/ok.jpg"),
            ),
        ] {
            let from = format!("/redirect-{}", name.replace(' ', "-"));
            Mock::given(path(from.as_str()))
                .respond_with(ResponseTemplate::new(302).insert_header("location", target.as_str()))
                .mount(&server)
                .await;
            let url = Url::parse(&format!("{base}{from}")).unwrap();
            let err = fetcher.get(&url).await.unwrap_err();
            assert!(
                err.contains("could not be fetched") && err.contains("private"),
                "{name}: {err}"
            );
        }
        // The public-looking host itself works, so the refusals above are
        // the guard's doing.
        let ok = fetcher
            .get(&Url::parse(&format!("{base}/ok.jpg")).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.content_type, "image/jpeg");
    }

    #[tokio::test]
    async fn non_images_huge_images_and_redirect_loops_are_refused() {
        let (fetcher, server, base) = fetcher_and_server().await;
        Mock::given(path("/page"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/html")
                    .set_body_string("<html>"),
            )
            .mount(&server)
            .await;
        Mock::given(path("/liar.jpg"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(b"not an image".to_vec()),
            )
            .mount(&server)
            .await;
        Mock::given(path("/huge.jpg"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "image/jpeg")
                    .set_body_bytes(vec![0u8; 50 * 1024 * 1024]),
            )
            .mount(&server)
            .await;
        Mock::given(path("/loop"))
            .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
            .mount(&server)
            .await;
        let get = |p: &str| {
            let url = Url::parse(&format!("{base}{p}")).unwrap();
            let fetcher = &fetcher;
            async move { fetcher.get(&url).await.unwrap_err() }
        };
        assert!(get("/page").await.contains("is not an image"));
        assert!(get("/liar.jpg").await.contains("bytes are not an image"));
        assert!(get("/huge.jpg").await.contains("over the 10 MB limit"));
        assert!(get("/loop").await.contains("could not be fetched"));
        // Each URL is fetched once per run, however often it is asked for.
        let before = server.received_requests().await.unwrap().len();
        let _ = get("/page").await;
        assert_eq!(server.received_requests().await.unwrap().len(), before);
    }

    #[test]
    fn literal_private_urls_are_refused_unless_allowed() {
        let u = Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        assert!(check_url(&u, false).is_err());
        assert!(check_url(&u, true).is_ok());
        assert!(check_url(&Url::parse("file:///etc/passwd").unwrap(), true).is_err());
    }
}
