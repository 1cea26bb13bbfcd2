//! The payload each provider stores after its prefix, as kube-apiserver's
//! `storage/value/encrypt/{aes,secretbox,identity}` transformers write and read it:
//!
//! - aescbc: `IV(16) || AES-CBC(plain || PKCS#7 pad)`, no authenticated data. On read the
//!   last byte `n` must be 1..=len and the last `n` bytes all `n` (upstream's own check,
//!   which accepts a "pad" longer than a block).
//! - aesgcm: `nonce(12) || ciphertext || tag(16)`, the storage path as authenticated data.
//! - secretbox: `nonce(24) || tag(16) || ciphertext` (NaCl's layout), no authenticated
//!   data.
//!
//! The `*_with` functions take the IV or nonce, for known-answer tests; the others draw it
//! from the operating system's random source.
use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, Payload};
use zeroize::Zeroizing;

/// Why a value could not be encrypted or decrypted. Never holds key material or plaintext.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The stored value is shorter than the provider's fixed overhead.
    #[error("the stored data was shorter than the required size")]
    TooShort,
    /// The CBC body is not whole blocks.
    #[error("the stored data is not a multiple of the block size")]
    NotBlocks,
    /// The CBC body is empty or its last byte is no valid pad length.
    #[error("invalid PKCS7 data (empty or not padded)")]
    BadPadLength,
    /// The CBC pad bytes differ.
    #[error("invalid padding on input")]
    BadPadding,
    /// The AEAD tag did not verify: wrong key, wrong storage path, or altered data.
    #[error("the data does not authenticate (wrong key, wrong key path, or altered data)")]
    Unauthentic,
    /// A key of a size the cipher does not take.
    #[error("a {0}-byte key is not an AES or secretbox key size")]
    KeySize(usize),
    /// The operating system's random source failed.
    #[error("no random bytes from the operating system")]
    Random,
}

fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

fn cbc_encrypt<C>(key: &[u8], iv: &[u8; 16], buf: &mut [u8]) -> Result<(), CryptoError>
where
    C: aes::cipher::BlockCipher + aes::cipher::BlockEncrypt + aes::cipher::KeyInit,
{
    let enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(|_| CryptoError::KeySize(key.len()))?;
    let len = buf.len();
    enc.encrypt_padded_mut::<NoPadding>(buf, len).map_err(|_| CryptoError::NotBlocks)?;
    Ok(())
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError>
where
    C: aes::cipher::BlockCipher + aes::cipher::BlockDecrypt + aes::cipher::KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| CryptoError::KeySize(key.len()))?;
    dec.decrypt_padded_mut::<NoPadding>(buf).map_err(|_| CryptoError::NotBlocks)?;
    Ok(())
}

/// aescbc with a given IV: `iv || CBC(plain || pad)`.
pub fn aescbc_seal_with(key: &[u8], iv: [u8; 16], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let pad = 16 - plain.len() % 16;
    let mut out = Vec::with_capacity(16 + plain.len() + pad);
    out.extend_from_slice(&iv);
    out.extend_from_slice(plain);
    out.resize(16 + plain.len() + pad, pad as u8);
    let body = &mut out[16..];
    match key.len() {
        16 => cbc_encrypt::<aes::Aes128>(key, &iv, body),
        24 => cbc_encrypt::<aes::Aes192>(key, &iv, body),
        32 => cbc_encrypt::<aes::Aes256>(key, &iv, body),
        n => Err(CryptoError::KeySize(n)),
    }
    .inspect_err(|_| zeroize::Zeroize::zeroize(&mut out))?;
    Ok(out)
}

/// aescbc with a random IV.
pub fn aescbc_seal(key: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    aescbc_seal_with(key, random()?, plain)
}

/// aescbc read.
pub fn aescbc_open(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if data.len() < 16 {
        return Err(CryptoError::TooShort);
    }
    let (iv, body) = data.split_at(16);
    if body.len() % 16 != 0 {
        return Err(CryptoError::NotBlocks);
    }
    if body.is_empty() {
        return Err(CryptoError::BadPadLength);
    }
    let mut out = Zeroizing::new(body.to_vec());
    match key.len() {
        16 => cbc_decrypt::<aes::Aes128>(key, iv, &mut out),
        24 => cbc_decrypt::<aes::Aes192>(key, iv, &mut out),
        32 => cbc_decrypt::<aes::Aes256>(key, iv, &mut out),
        n => Err(CryptoError::KeySize(n)),
    }?;
    let n = out[out.len() - 1] as usize;
    if n == 0 || n > out.len() {
        return Err(CryptoError::BadPadLength);
    }
    let keep = out.len() - n;
    if out[keep..].iter().any(|&b| b as usize != n) {
        return Err(CryptoError::BadPadding);
    }
    out.truncate(keep);
    Ok(out)
}

type Aes192Gcm = aes_gcm::AesGcm<aes::Aes192, U12>;

fn gcm_seal<C: Aead + KeyInit + AeadCore<NonceSize = U12>>(
    key: &[u8],
    nonce: &[u8; 12],
    plain: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let c = C::new_from_slice(key).map_err(|_| CryptoError::KeySize(key.len()))?;
    c.encrypt(GenericArray::from_slice(nonce), Payload { msg: plain, aad }).map_err(|_| CryptoError::TooShort)
}

fn gcm_open<C: Aead + KeyInit + AeadCore<NonceSize = U12>>(
    key: &[u8],
    nonce: &[u8],
    body: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let c = C::new_from_slice(key).map_err(|_| CryptoError::KeySize(key.len()))?;
    c.decrypt(GenericArray::from_slice(nonce), Payload { msg: body, aad }).map_err(|_| CryptoError::Unauthentic)
}

/// aesgcm with a given nonce: `nonce || ciphertext || tag`, `aad` authenticated.
pub fn aesgcm_seal_with(key: &[u8], nonce: [u8; 12], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sealed = match key.len() {
        16 => gcm_seal::<aes_gcm::Aes128Gcm>(key, &nonce, plain, aad),
        24 => gcm_seal::<Aes192Gcm>(key, &nonce, plain, aad),
        32 => gcm_seal::<aes_gcm::Aes256Gcm>(key, &nonce, plain, aad),
        n => Err(CryptoError::KeySize(n)),
    }?;
    let mut out = Vec::with_capacity(12 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// aesgcm with a random nonce.
pub fn aesgcm_seal(key: &[u8], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    aesgcm_seal_with(key, random()?, plain, aad)
}

/// aesgcm read; `aad` must be the storage path the value was written under.
pub fn aesgcm_open(key: &[u8], data: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if data.len() < 12 {
        return Err(CryptoError::TooShort);
    }
    let (nonce, body) = data.split_at(12);
    let plain = match key.len() {
        16 => gcm_open::<aes_gcm::Aes128Gcm>(key, nonce, body, aad),
        24 => gcm_open::<Aes192Gcm>(key, nonce, body, aad),
        32 => gcm_open::<aes_gcm::Aes256Gcm>(key, nonce, body, aad),
        n => Err(CryptoError::KeySize(n)),
    }?;
    Ok(Zeroizing::new(plain))
}

fn secretbox(key: &[u8]) -> Result<crypto_secretbox::XSalsa20Poly1305, CryptoError> {
    crypto_secretbox::XSalsa20Poly1305::new_from_slice(key).map_err(|_| CryptoError::KeySize(key.len()))
}

/// secretbox with a given nonce: `nonce || tag || ciphertext`.
pub fn secretbox_seal_with(key: &[u8], nonce: [u8; 24], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sealed = secretbox(key)?.encrypt(&nonce.into(), plain).map_err(|_| CryptoError::TooShort)?;
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// secretbox with a random nonce.
pub fn secretbox_seal(key: &[u8], plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    secretbox_seal_with(key, random()?, plain)
}

/// secretbox read.
pub fn secretbox_open(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if data.len() < 40 {
        return Err(CryptoError::TooShort);
    }
    let (nonce, body) = data.split_at(24);
    let plain = secretbox(key)?.decrypt(nonce.into(), body).map_err(|_| CryptoError::Unauthentic)?;
    Ok(Zeroizing::new(plain))
}
